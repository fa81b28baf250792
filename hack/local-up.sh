#!/usr/bin/env bash
# Brings up a real local cluster with the pods/checkpoint subresource, all of
# its state under _output/local-up, and checkpoints a demo container:
#   - a control plane in network namespace ${PREFIX}-cp (10.213.0.1): etcd,
#     APISERVERS (default 1) patched kube-apiservers with ContainerCheckpointAPI
#     on, upstream's kube-controller-manager and kube-scheduler v1.37.2. With
#     APISERVERS >= 2 replica i listens on 10.213.0.(100+i):6443 and haproxy
#     on 10.213.0.1:6443 balances them, as kubeadm's HA topology does; every
#     kubeconfig but kubeconfig-apiserver<i> (replica i alone) goes through it;
#   - NUM_NODES nodes (default 1), each in network namespace ${PREFIX}-nodeN
#     (10.213.0.N+1) with its own containerd, runc, CRIU >= 4.2, CNI bridge
#     network (10.88.N.0/24) and upstream kubelet using Webhook
#     authentication and authorization. Every node runs kubelet v1.37.2,
#     containerd v2.2.9 and runc v1.3.3 unless NODES gives each node a stack
#     of its own, space-separated, one node each (NUM_NODES is then their
#     number): components kubelet (v1.34-v1.37), containerd (v1.7, v2.x),
#     runc, and criu=disabled (containerd's enable_criu = false), e.g.
#       NODES='kubelet=v1.34.4,containerd=v1.7.35 containerd=v2.4.2,runc=v1.5.3 default'
#     Each version is built once from the Go module proxy and cached under
#     _output/node-deps; each containerd gets its own major version's config.
#   - a switch namespace whose bridge joins them. Every address lives inside
#     namespaces this script creates; nothing is sent anywhere else.
# The apiserver reaches kubelets as the ordinary user
# kube-apiserver-kubelet-client bound to system:kubelet-api-admin, as kubeadm
# does. Its nodes share this machine's disk: the apiservers keep
# DISK_RESERVE (default 4Gi) of it free (--checkpoint-node-disk-reserve), not
# 15% of it. hack/local-down.sh removes all of it.
#
#   hack/local-up.sh   (make local-up)   NUM_NODES=2 APISERVERS=2 hack/local-up.sh
#   NODES='kubelet=v1.34.4 criu=disabled' hack/local-up.sh
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "${ROOT}/hack/lib/local-cluster.sh"

NUM_NODES=${NUM_NODES:-1}
NODES=${NODES:-}
stacks=()
if [[ -n "${NODES}" ]]; then
	for spec in ${NODES}; do stacks+=("$(parse_stack "${spec}")"); done
	NUM_NODES=${#stacks[@]}
else
	for _ in $(seq 1 "${NUM_NODES}"); do stacks+=("$(parse_stack default)"); done
fi
APISERVERS=${APISERVERS:-1}
[[ "${APISERVERS}" =~ ^[1-9][0-9]*$ ]] || { echo "APISERVERS must be a number >= 1, got ${APISERVERS}" >&2; exit 1; }
DEMO=${DEMO:-true}

step() { echo "+++ [local-up] $*"; }

"${ROOT}/hack/local-down.sh" >/dev/null 2>&1 || true
mkdir -p "${STATE}" "${LOGS}" "${PKI}"
echo "${NUM_NODES}" > "${STATE}/num-nodes"
echo "${APISERVERS}" > "${STATE}/apiservers"
# What each node runs, for the e2e suite's skew specs: "nodeN <stack>".
for i in $(seq 1 "${NUM_NODES}"); do echo "$(node_name "${i}") ${stacks[i - 1]}"; done > "${STATE}/node-stacks"

step "building binaries, node dependencies and images"
make -C "${ROOT}" --no-print-directory build cluster-binaries images >/dev/null
# Every version a stack names besides the default's.
extra=$(printf '%s\n' "${stacks[@]}" | tr ' ' '\n' | grep -v '^criu=' | sort -u |
	grep -vxF -e "kubelet=${DEFAULT_KUBELET}" -e "containerd=${DEFAULT_CONTAINERD}" -e "runc=${DEFAULT_RUNC}" || true)
# shellcheck disable=SC2086 # one argument per component=version
"${ROOT}/hack/install-node-deps.sh" ${extra} | { grep -v '^+++' || true; }

# --- network -----------------------------------------------------------------
step "network namespaces ${PREFIX}-switch, ${PREFIX}-cp and ${NUM_NODES} node(s)"
ip netns add "${SWITCH_NS}"
ip -n "${SWITCH_NS}" link add br0 type bridge
ip -n "${SWITCH_NS}" link set br0 up
ip -n "${SWITCH_NS}" link set lo up
attach_host() { # namespace ip
	local ns=$1 ip=$2
	ip netns add "${ns}"
	ip -n "${SWITCH_NS}" link add "v-${ns#"${PREFIX}"-}" type veth peer name eth0 netns "${ns}"
	ip -n "${SWITCH_NS}" link set "v-${ns#"${PREFIX}"-}" master br0 up
	ip -n "${ns}" addr add "${ip}/24" dev eth0
	ip -n "${ns}" link set eth0 up
	ip -n "${ns}" link set lo up
}
attach_host "${CP_NS}" "${CP_IP}"
if ((APISERVERS > 1)); then
	for i in $(seq 1 "${APISERVERS}"); do
		ip -n "${CP_NS}" addr add "$(apiserver_ip "${i}")/24" dev eth0
	done
fi
for i in $(seq 1 "${NUM_NODES}"); do
	attach_host "$(node_ns "${i}")" "$(node_ip "${i}")"
	# The kubelet wants a default route; it leads to the control plane only.
	ip -n "$(node_ns "${i}")" route add default via "${CP_IP}"
done

# --- certificates ------------------------------------------------------------
step "certificates and kubeconfigs"
openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -days 365 \
	-subj "/CN=kube-checkpoint-local-ca" -keyout "${PKI}/ca.key" -out "${PKI}/ca.crt" 2>/dev/null
cert() { # name subject usage [sans]
	local name=$1 subject=$2 usage=$3 sans=${4:-}
	openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -subj "${subject}" \
		-keyout "${PKI}/${name}.key" -out "${PKI}/${name}.csr" 2>/dev/null
	{
		echo "basicConstraints=CA:FALSE"
		echo "keyUsage=critical,digitalSignature,keyEncipherment"
		echo "extendedKeyUsage=${usage}"
		[[ -z "${sans}" ]] || echo "subjectAltName=${sans}"
	} > "${PKI}/${name}.ext"
	openssl x509 -req -in "${PKI}/${name}.csr" -CA "${PKI}/ca.crt" -CAkey "${PKI}/ca.key" -CAcreateserial \
		-days 365 -extfile "${PKI}/${name}.ext" -out "${PKI}/${name}.crt" 2>/dev/null
	rm -f "${PKI}/${name}.csr" "${PKI}/${name}.ext"
}
replica_sans=""
for i in $(seq 1 "${APISERVERS}"); do replica_sans+="IP:$(apiserver_ip "${i}"),"; done
cert apiserver "/CN=kube-apiserver" serverAuth \
	"IP:${CP_IP},${replica_sans}IP:${SERVICE_IP},IP:127.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost"
cert admin "/O=system:masters/CN=kubernetes-admin" clientAuth
cert apiserver-kubelet-client "/CN=kube-apiserver-kubelet-client" clientAuth
cert controller-manager "/CN=system:kube-controller-manager" clientAuth
cert scheduler "/CN=system:kube-scheduler" clientAuth
openssl genrsa -out "${PKI}/sa.key" 2048 2>/dev/null
openssl rsa -in "${PKI}/sa.key" -pubout -out "${PKI}/sa.pub" 2>/dev/null

kubeconfig() { # file user cert [server]
	local file=$1 user=$2 cert=$3 server=${4:-${CP_IP}}
	local kc=("${BIN}/kubectl" --kubeconfig="${file}")
	"${kc[@]}" config set-cluster local --server="https://${server}:6443" --certificate-authority="${PKI}/ca.crt" --embed-certs >/dev/null
	"${kc[@]}" config set-credentials "${user}" --client-certificate="${PKI}/${cert}.crt" --client-key="${PKI}/${cert}.key" --embed-certs >/dev/null
	"${kc[@]}" config set-context local --cluster=local --user="${user}" >/dev/null
	"${kc[@]}" config use-context local >/dev/null
}
kubeconfig "${KUBECONFIG_FILE}" kubernetes-admin admin
for i in $(seq 1 "${APISERVERS}"); do
	if ((APISERVERS > 1)); then
		kubeconfig "${STATE}/kubeconfig-apiserver${i}" kubernetes-admin admin "$(apiserver_ip "${i}")"
	else
		cp "${KUBECONFIG_FILE}" "${STATE}/kubeconfig-apiserver1"
	fi
done
cat > "${STATE}/kubectl" <<KUBECTL
#!/usr/bin/env bash
# kubectl for the local cluster, whose API server listens in ${CP_NS}.
exec nsenter --net=/var/run/netns/${CP_NS} ${BIN}/kubectl --kubeconfig=${KUBECONFIG_FILE} "\$@"
KUBECTL
chmod +x "${STATE}/kubectl"
kubeconfig "${STATE}/controller-manager.kubeconfig" system:kube-controller-manager controller-manager
kubeconfig "${STATE}/scheduler.kubeconfig" system:kube-scheduler scheduler

# --- control plane -----------------------------------------------------------
step "etcd, ${APISERVERS} kube-apiserver(s)$( ((APISERVERS == 1)) || echo " behind haproxy"), kube-controller-manager and kube-scheduler in ${CP_NS}"
run_in "${CP_NS}" etcd "${BIN}/etcd" --name=local --data-dir="${STATE}/etcd" \
	--listen-client-urls=http://127.0.0.1:2379 --advertise-client-urls=http://127.0.0.1:2379 \
	--listen-peer-urls=http://127.0.0.1:2380 --initial-advertise-peer-urls=http://127.0.0.1:2380 \
	--initial-cluster=local=http://127.0.0.1:2380 --listen-metrics-urls=
wait_for "etcd" 60 in_ns "${CP_NS}" curl -sf http://127.0.0.1:2379/health

# --shutdown-send-retry-after: a replica stopped with SIGTERM answers 429
# with Retry-After until its requests in flight are done, then closes its
# connections within 2 s; otherwise it waits up to 60 s for every watch open
# on it (the kubelets', the controllers', its own), as kube-apiserver does by
# default.
for i in $(seq 1 "${APISERVERS}"); do
	address=${CP_IP}
	((APISERVERS == 1)) || address=$(apiserver_ip "${i}")
	run_in "${CP_NS}" "$(apiserver_name "${i}")" "${BIN}/kube-apiserver" \
		--feature-gates=ContainerCheckpointAPI=true \
		--checkpoint-node-disk-reserve="${DISK_RESERVE}" \
		--etcd-servers=http://127.0.0.1:2379 \
		--bind-address="${address}" --advertise-address="${address}" --secure-port=6443 \
		--service-cluster-ip-range="${SERVICE_CIDR}" \
		--client-ca-file="${PKI}/ca.crt" --tls-cert-file="${PKI}/apiserver.crt" --tls-private-key-file="${PKI}/apiserver.key" \
		--service-account-issuer=https://kubernetes.default.svc --service-account-key-file="${PKI}/sa.pub" \
		--service-account-signing-key-file="${PKI}/sa.key" \
		--authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction --allow-privileged=true \
		--kubelet-client-certificate="${PKI}/apiserver-kubelet-client.crt" --kubelet-client-key="${PKI}/apiserver-kubelet-client.key" \
		--kubelet-certificate-authority="${PKI}/ca.crt" --kubelet-preferred-address-types=InternalIP \
		--shutdown-send-retry-after=true
done
if ((APISERVERS > 1)); then
	# A TCP load balancer, as kubeadm's HA guide sets up: TLS goes through to
	# the replicas, and a replica that is not ready gets no new connection.
	{
		cat <<EOF
global
  log stdout format raw local0 notice
defaults
  mode tcp
  log global
  timeout connect 5s
  # Checkpoints and watches are long-running.
  timeout client 1h
  timeout server 1h
frontend kube-apiserver
  bind ${CP_IP}:6443
  default_backend kube-apiservers
backend kube-apiservers
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
EOF
		for i in $(seq 1 "${APISERVERS}"); do
			echo "  server apiserver${i} $(apiserver_ip "${i}"):6443 check check-ssl verify none inter 1s fall 2 rise 1"
		done
	} > "${STATE}/haproxy.cfg"
	haproxy -c -q -f "${STATE}/haproxy.cfg"
	run_in "${CP_NS}" haproxy "$(command -v haproxy)" -db -f "${STATE}/haproxy.cfg"
fi
for i in $(seq 1 "${APISERVERS}"); do
	wait_for "$(apiserver_name "${i}")" 120 in_ns "${CP_NS}" "${BIN}/kubectl" --kubeconfig="${STATE}/kubeconfig-apiserver${i}" get --raw /readyz
done
wait_for "the API through ${CP_IP}:6443" 60 kubectl get --raw /readyz

# As kubeadm does: the apiserver's kubelet client identity is an ordinary
# user bound to system:kubelet-api-admin, which the checkpoint gate extends
# with nodes/checkpoint.
kubectl create clusterrolebinding kube-apiserver-kubelet-client \
	--clusterrole=system:kubelet-api-admin --user=kube-apiserver-kubelet-client >/dev/null

run_in "${CP_NS}" kube-controller-manager "${BIN}/kube-controller-manager" \
	--kubeconfig="${STATE}/controller-manager.kubeconfig" \
	--authentication-kubeconfig="${STATE}/controller-manager.kubeconfig" \
	--authorization-kubeconfig="${STATE}/controller-manager.kubeconfig" \
	--bind-address=127.0.0.1 --leader-elect=false --use-service-account-credentials \
	--service-account-private-key-file="${PKI}/sa.key" --root-ca-file="${PKI}/ca.crt" \
	--cluster-signing-cert-file="${PKI}/ca.crt" --cluster-signing-key-file="${PKI}/ca.key" \
	--service-cluster-ip-range="${SERVICE_CIDR}"
run_in "${CP_NS}" kube-scheduler "${BIN}/kube-scheduler" \
	--kubeconfig="${STATE}/scheduler.kubeconfig" \
	--authentication-kubeconfig="${STATE}/scheduler.kubeconfig" \
	--authorization-kubeconfig="${STATE}/scheduler.kubeconfig" \
	--bind-address=127.0.0.1 --leader-elect=false

# --- nodes -------------------------------------------------------------------
for i in $(seq 1 "${NUM_NODES}"); do
	name=$(node_name "${i}")
	ns=$(node_ns "${i}")
	ip=$(node_ip "${i}")
	dir="${STATE}/${name}"
	declare -A stack=()
	for item in ${stacks[i - 1]}; do stack[${item%%=*}]=${item#*=}; done
	containerd_dir=$(stack_dir containerd "${stack[containerd]}")
	runc_bin=$(stack_dir runc "${stack[runc]}")/runc
	step "${name}: containerd ${stack[containerd]}, runc ${stack[runc]}, CNI and kubelet ${stack[kubelet]} in ${ns} (${ip})"
	mkdir -p "${dir}/cni/net.d" "${dir}/kubelet"

	# Each node's kubelet gets a cgroup root of its own, in every v1 hierarchy.
	for hierarchy in /sys/fs/cgroup/*/; do
		[[ "${hierarchy}" == */unified/ ]] && continue
		mkdir -p "${hierarchy}${name}"
		if [[ -f "${hierarchy}cpuset.cpus" ]]; then
			cat "${hierarchy}cpuset.cpus" > "${hierarchy}${name}/cpuset.cpus"
			cat "${hierarchy}cpuset.mems" > "${hierarchy}${name}/cpuset.mems"
		fi
	done

	# containerd 1.x reads config version 2, with one CRI plugin; 2.x version 3.
	cat > "${dir}/containerd.toml" <<EOF
version = $([[ ${stack[containerd]} == v1.* ]] && echo 2 || echo 3)
root = "${dir}/containerd/root"
state = "${dir}/containerd/state"

[grpc]
  address = "${dir}/containerd.sock"
[ttrpc]
  address = "${dir}/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""

EOF
	if [[ ${stack[containerd]} == v1.* ]]; then
		cat >> "${dir}/containerd.toml" <<EOF
[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "${PAUSE_IMAGE}"
    # This sandbox lacks CAP_SYS_RESOURCE: runc cannot set a negative oom_score_adj.
    restrict_oom_score_adj = true
    netns_mounts_under_state_dir = true
    enable_cdi = false
    stream_server_address = "127.0.0.1"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          BinaryName = "${runc_bin}"
          Root = "${dir}/containerd/runc"
          SystemdCgroup = false
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "${DEPS}/cni/bin"
      conf_dir = "${dir}/cni/net.d"
EOF
	else
		cat >> "${dir}/containerd.toml" <<EOF
[plugins]
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = '${PAUSE_IMAGE}'
  [plugins.'io.containerd.cri.v1.runtime']
    # This sandbox lacks CAP_SYS_RESOURCE: runc cannot set a negative oom_score_adj.
    restrict_oom_score_adj = true
    netns_mounts_under_state_dir = true
    enable_cdi = false
    enable_criu = $([[ ${stack[criu]} == enabled ]] && echo true || echo false)
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = 'io.containerd.runc.v2'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = '${runc_bin}'
        Root = '${dir}/containerd/runc'
        SystemdCgroup = false
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = ['${DEPS}/cni/bin']
      conf_dir = '${dir}/cni/net.d'
  [plugins.'io.containerd.grpc.v1.cri']
    stream_server_address = '127.0.0.1'
EOF
	fi
	cat > "${dir}/cni/net.d/10-bridge.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "local-up",
  "plugins": [
    {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$(pod_cidr "${i}")"}]], "routes": [{"dst": "0.0.0.0/0"}],
              "dataDir": "${dir}/cni/ipam"}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
	# containerd starts the shim of its own release, found first on its PATH.
	run_in "${ns}" "${name}-containerd" env "PATH=${containerd_dir}:${DEPS}/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin" \
		"${containerd_dir}/containerd" --config="${dir}/containerd.toml"
	wait_for "${name} containerd" 60 test -S "${dir}/containerd.sock"
	import_images "${dir}" "${containerd_dir}/ctr"

	cert "${name}-kubelet-client" "/O=system:nodes/CN=system:node:${name}" clientAuth
	cert "${name}-kubelet" "/CN=${name}" serverAuth "IP:${ip},DNS:${name}"
	kubeconfig "${dir}/kubelet.kubeconfig" "system:node:${name}" "${name}-kubelet-client"
	cat > "${dir}/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: ${ip}
port: 10250
readOnlyPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: ${PKI}/ca.crt}
authorization:
  mode: Webhook
tlsCertFile: ${PKI}/${name}-kubelet.crt
tlsPrivateKeyFile: ${PKI}/${name}-kubelet.key
containerRuntimeEndpoint: unix://${dir}/containerd.sock
cgroupDriver: cgroupfs
cgroupRoot: /${name}
failCgroupV1: false
failSwapOn: false
resolvConf: ""
clusterDomain: cluster.local
# Kubelets sharing /var/log/pods delete each other's pod logs as orphans.
podLogsDir: ${dir}/pod-logs
featureGates:
  ContainerCheckpoint: true
evictionHard:
  memory.available: "1Mi"
  nodefs.available: "1%"
  imagefs.available: "1%"
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
EOF
	run_in "${ns}" "${name}-kubelet" env "PATH=${DEPS}/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin" \
		"$(stack_dir kubelet "${stack[kubelet]}")/kubelet" --config="${dir}/kubelet.yaml" --kubeconfig="${dir}/kubelet.kubeconfig" \
		--root-dir="${dir}/kubelet" --hostname-override="${name}" --node-ip="${ip}"
done
for i in $(seq 1 "${NUM_NODES}"); do
	wait_for "$(node_name "${i}") Ready" 120 kubectl wait --for=condition=Ready "node/$(node_name "${i}")" --timeout=2s
done
wait_for "the default service account" 60 kubectl get serviceaccount default -n default

if [[ "${DEMO}" == true ]]; then
	step "demo: a counter pod, checkpointed with kubectl alpha checkpoint"
	kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: counter
  namespace: default
spec:
  nodeName: $(node_name 1)
  containers:
  - name: counter
    image: ${COUNTER_IMAGE}
    imagePullPolicy: Never
EOF
	wait_for "pod counter Running" 120 kubectl wait --for=condition=Ready pod/counter --timeout=2s
	echo
	kubectl alpha checkpoint counter
	echo
	step "the archive on $(node_name 1):"
	ls -l "${STATE}/$(node_name 1)/kubelet/checkpoints/"
fi

cat <<EOF

The cluster is up, with ${APISERVERS} kube-apiserver(s). Its state, logs and admin
kubeconfig are in ${STATE}; kubeconfig-apiserver<i> reaches replica i alone.
The API server listens inside network namespace ${CP_NS}; reach it with
  ${STATE}/kubectl get nodes
(a wrapper that runs _output/bin/kubectl in ${CP_NS} with
 --kubeconfig=${KUBECONFIG_FILE}), for example
  ${STATE}/kubectl alpha checkpoint counter
Tear everything down with: make local-down
EOF
