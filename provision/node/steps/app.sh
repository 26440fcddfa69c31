# shellcheck shell=bash
# The app namespace (PSA restricted, sidecar injection), the app user's RoleBinding, default-deny
# policies, the demo app and the ServiceEntry of its one registered external host.

put_file /etc/kubernetes/kubeproof/app.yaml 0644 \
  < <(render "$here/manifests/app.yaml" APP_NAMESPACE APP_USER APP_IMAGE)
put_file /etc/kubernetes/kubeproof/service-entry.yaml 0644 \
  < <(render "$here/manifests/service-entry.yaml" APP_NAMESPACE)
run "${KUBECTL[@]}" apply -f "$(path /etc/kubernetes/kubeproof/app.yaml)"
if skipped istio; then
  say "SKIP ServiceEntry: Istio was skipped"
else
  run "${KUBECTL[@]}" apply -f "$(path /etc/kubernetes/kubeproof/service-entry.yaml)"
fi
run "${KUBECTL[@]}" -n "$APP_NAMESPACE" rollout status deployment/pegress --timeout=300s
