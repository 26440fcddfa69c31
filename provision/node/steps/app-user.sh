# shellcheck shell=bash
# The app user pegress (group hcom): a client certificate signed by the cluster CA and its own
# kubeconfig. Its rights come from the RoleBinding in manifests/app.yaml.

pki=$(path /etc/kubernetes/pki)
dir=$(path /etc/kubernetes/kubeproof/app-user)
mkdir -p "$dir"
chmod 0700 "$dir"
if [[ ! -s $pki/ca.crt || ! -s $pki/ca.key ]]; then
  say "SKIP app user certificate: no cluster CA in /etc/kubernetes/pki (kubeadm init did not run: dry run)"
else
  if [[ -s $dir/$APP_USER.crt ]] && openssl x509 -in "$dir/$APP_USER.crt" -noout -checkend 86400 >/dev/null \
      && openssl verify -CAfile "$pki/ca.crt" "$dir/$APP_USER.crt" >/dev/null 2>&1; then
    say "app user certificate valid for more than a day: kept"
  else
    [[ -s $dir/$APP_USER.key ]] || (umask 077; openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/$APP_USER.key")
    openssl req -new -key "$dir/$APP_USER.key" -subj "/O=$APP_GROUP/CN=$APP_USER" -out "$dir/$APP_USER.csr"
    openssl x509 -req -in "$dir/$APP_USER.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
      -CAcreateserial -CAserial "$dir/ca.srl" -days 30 -out "$dir/$APP_USER.crt" 2>/dev/null
    say "app user certificate issued: CN=$APP_USER O=$APP_GROUP, 30 days"
  fi
  (umask 077; cat >"$KUBEPROOF_OUT/app.kubeconfig" <<CONF
apiVersion: v1
kind: Config
clusters:
- name: kubeproof
  cluster:
    server: $API_ENDPOINT
    certificate-authority-data: $(base64 -w0 <"$pki/ca.crt")
users:
- name: $APP_USER
  user:
    client-certificate-data: $(base64 -w0 <"$dir/$APP_USER.crt")
    client-key-data: $(base64 -w0 <"$dir/$APP_USER.key")
contexts:
- name: $APP_USER
  context: {cluster: kubeproof, user: $APP_USER, namespace: $APP_NAMESPACE}
current-context: $APP_USER
CONF
  )
  say "app kubeconfig ready (user $APP_USER, namespace $APP_NAMESPACE)"
fi
