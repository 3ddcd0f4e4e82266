//! The node's configuration files: containerd's, the CNI network's, the kubelet's and
//! kube-proxy's, as kubeadm (and kind) write them where they can be; the differences are in
//! docs/control-plane.md ("A node").

use std::path::Path;

use super::{CLUSTER_CIDR, NODE_NAME, NodeLayout, POD_CIDR, images};
use crate::version::KubeVersion;

/// containerd 1.6's configuration (version 2): its own root, state and socket, so it never
/// meets a system containerd, and CRI settings this machine kind needs.
pub fn containerd(layout: &NodeLayout) -> String {
    let d = |p: &Path| p.display().to_string();
    format!(
        r#"version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]

[grpc]
  address = "{socket}"

[ttrpc]
  address = "{socket}.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "{opt}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  # The VM lacks CAP_SYS_RESOURCE: runc cannot give a sandbox a negative oom_score_adj.
  restrict_oom_score_adj = true
  # Pods' network namespaces under the state directory, not /run/netns.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{runc}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{cni_conf}"
"#,
        root = d(&layout.containerd_root),
        state = d(&layout.containerd_state),
        socket = d(&layout.containerd_socket),
        opt = d(&layout.dir.join("opt")),
        pause = images::PAUSE_IMAGE,
        runc = d(&layout.dir.join("runc")),
        cni_conf = d(&layout.cni_conf_dir),
    )
}

/// The pod network: a bridge (`cni0`) in the node's namespace, the node's /24 of the cluster
/// CIDR, outgoing traffic masqueraded behind the node's address.
pub fn cni(layout: &NodeLayout, network: &str) -> String {
    serde_json::json!({
        "cniVersion": "0.4.0",
        "name": network,
        "plugins": [{
            "type": "bridge",
            "bridge": "cni0",
            "isGateway": true,
            "ipMasq": true,
            "hairpinMode": true,
            "ipam": {
                "type": "host-local",
                "ranges": [[{ "subnet": POD_CIDR }]],
                "routes": [{ "dst": "0.0.0.0/0" }],
                "dataDir": layout.dir.join("cni/ipam"),
            },
        }],
    })
    .to_string()
}

/// The kubelet's configuration file, as kubeadm's (authentication by client certificate and
/// webhook, no anonymous access, webhook authorization) plus what this machine kind needs.
pub fn kubelet(layout: &NodeLayout, v: KubeVersion, ca: &Path, cgroup_root: &str) -> String {
    let mut text = format!(
        "apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
    cacheTTL: 0s
  x509:
    clientCAFile: {ca}
authorization:
  mode: Webhook
  webhook:
    cacheAuthorizedTTL: 0s
    cacheUnauthorizedTTL: 0s
cgroupDriver: cgroupfs
cgroupRoot: {cgroup_root}
cgroupsPerQOS: true
clusterDomain: cluster.local
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
failSwapOn: false
rotateCertificates: false
serializeImagePulls: false
imageGCHighThresholdPercent: 100
evictionHard:
  nodefs.available: \"0%\"
  nodefs.inodesFree: \"0%\"
  imagefs.available: \"0%\"
",
        ca = ca.display(),
    );
    if v.minor >= 27 {
        text.push_str(&format!("containerRuntimeEndpoint: unix://{}\n", layout.containerd_socket.display()));
    }
    if v.minor >= 31 {
        // Releases that have it refuse cgroup v1 (this machine kind) unless told not to.
        text.push_str("failCgroupV1: false\n");
    }
    text
}

/// The kubelet's command line beside its configuration file.
pub fn kubelet_args(layout: &NodeLayout, v: KubeVersion, config: &Path, kubeconfig: &Path, node_ip: &str) -> Vec<String> {
    let mut args = vec![
        format!("--config={}", config.display()),
        format!("--kubeconfig={}", kubeconfig.display()),
        format!("--root-dir={}", layout.kubelet_root.display()),
        format!("--hostname-override={NODE_NAME}"),
        format!("--node-ip={node_ip}"),
    ];
    if v.minor < 27 {
        args.push(format!("--container-runtime-endpoint=unix://{}", layout.containerd_socket.display()));
        args.push(format!("--pod-infra-container-image={}", images::PAUSE_IMAGE));
    }
    if v.minor < 24 {
        args.push("--container-runtime=remote".into());
    }
    args
}

/// kube-proxy's configuration: iptables mode in the node's namespace, and no change to the
/// kernel's conntrack settings (global ones it may not write).
pub fn kube_proxy(kubeconfig: &Path) -> String {
    format!(
        "apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: {kubeconfig}
mode: iptables
clusterCIDR: {CLUSTER_CIDR}
hostnameOverride: {NODE_NAME}
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
",
        kubeconfig = kubeconfig.display(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> NodeLayout {
        NodeLayout::new("/c/node".into())
    }

    fn kubelet_for(minor: u32) -> (String, Vec<String>) {
        let v = KubeVersion::new(1, minor, 0);
        let config = kubelet(&layout(), v, Path::new("/c/pki/ca.crt"), "/kubeproof/c");
        let args = kubelet_args(&layout(), v, Path::new("/c/node/kubelet.yaml"), Path::new("/c/kubelet.conf"), "172.29.1.2");
        (config, args)
    }

    #[test]
    fn the_kubelet_gets_what_each_release_needs() {
        // docs/control-plane.md, "The kubelet per release".
        let (config, args) = kubelet_for(23);
        assert!(args.contains(&"--container-runtime=remote".to_string()), "{args:?}");
        assert!(args.contains(&"--container-runtime-endpoint=unix:///c/node/run/containerd.sock".to_string()), "{args:?}");
        assert!(args.contains(&"--pod-infra-container-image=kubeproof.local/pause:1".to_string()), "{args:?}");
        for field in ["containerRuntimeEndpoint", "failCgroupV1"] {
            assert!(!config.contains(field), "1.23 has no {field}");
        }
        let (config, args) = kubelet_for(26);
        assert!(
            !args.contains(&"--container-runtime=remote".to_string())
                && args.iter().any(|a| a.starts_with("--container-runtime-endpoint="))
        );
        assert!(!config.contains("containerRuntimeEndpoint"));
        let (config, args) = kubelet_for(27);
        assert!(!args.iter().any(|a| a.starts_with("--container-runtime")), "{args:?}");
        assert!(config.contains("containerRuntimeEndpoint: unix:///c/node/run/containerd.sock\n"));
        let (config, _) = kubelet_for(30);
        assert!(!config.contains("failCgroupV1"));
        let (config, args) = kubelet_for(37);
        assert!(config.contains("failCgroupV1: false\n"));
        // kubeadm's authentication and authorization, on every release.
        for needed in [
            "anonymous:\n    enabled: false",
            "clientCAFile: /c/pki/ca.crt",
            "mode: Webhook",
            "readOnlyPort: 0",
            "cgroupRoot: /kubeproof/c",
            "cgroupDriver: cgroupfs",
        ] {
            assert!(config.contains(needed), "{needed} in\n{config}");
        }
        for needed in ["--hostname-override=kubeproof-node", "--node-ip=172.29.1.2", "--root-dir=/c/node/kubelet"] {
            assert!(args.contains(&needed.to_string()), "{args:?}");
        }
    }

    #[test]
    fn containerd_and_cni_stay_in_the_node_directory() {
        let toml = containerd(&layout());
        for needed in [
            "root = \"/c/node/containerd\"",
            "state = \"/c/node/run\"",
            "address = \"/c/node/run/containerd.sock\"",
            "restrict_oom_score_adj = true",
            "netns_mounts_under_state_dir = true",
            "sandbox_image = \"kubeproof.local/pause:1\"",
            "Root = \"/c/node/runc\"",
            "conf_dir = \"/c/node/cni/net.d\"",
        ] {
            assert!(toml.contains(needed), "{needed} in\n{toml}");
        }
        let cni: serde_json::Value = serde_json::from_str(&cni(&layout(), "kubeproof-1")).unwrap();
        assert_eq!(cni["name"], "kubeproof-1");
        assert_eq!(cni["plugins"][0]["bridge"], "cni0");
        assert_eq!(cni["plugins"][0]["ipam"]["ranges"][0][0]["subnet"], POD_CIDR);
        assert_eq!(cni["plugins"][0]["ipam"]["dataDir"], "/c/node/cni/ipam");
    }
}
