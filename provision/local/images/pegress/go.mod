module kubeproof.local/pegress

go 1.25
