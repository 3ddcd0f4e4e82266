//! The node's network: a network namespace `kp-N` joined to the host by a veth pair, as a kind
//! node is joined to its Docker network. Host side `kp-N` 172.29.N.1/30, node side `eth0`
//! 172.29.N.2/30 with its default route through the host. Everything a node adds to its
//! network (the CNI bridge, pod veths, kube-proxy's and the bridge plugin's iptables rules)
//! lives in that namespace and dies with it.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;

/// The first octets of every node network; the third is the node's index.
const PREFIX: [u8; 2] = [172, 29];

/// Where `ip netns` keeps the namespace files.
const NETNS_DIR: &str = "/run/netns";

/// The namespace (and host-side interface) name of index `n`: at most 15 characters.
pub fn name(index: u8) -> String {
    format!("kp-{index}")
}

pub fn host_ip(index: u8) -> Ipv4Addr {
    Ipv4Addr::new(PREFIX[0], PREFIX[1], index, 1)
}

pub fn node_ip(index: u8) -> Ipv4Addr {
    Ipv4Addr::new(PREFIX[0], PREFIX[1], index, 2)
}

pub fn netns_file(name: &str) -> PathBuf {
    PathBuf::from(NETNS_DIR).join(name)
}

/// Creates the namespace and its veth pair at the first free index. `ip netns add` fails on a
/// name that exists, so two kubeproofs never take the same index.
pub fn create() -> Result<u8, String> {
    for index in 1..=254u8 {
        let ns = name(index);
        if netns_file(&ns).exists() || interface_exists(&ns) {
            continue;
        }
        if ip(&["netns", "add", &ns]).is_err() {
            continue;
        }
        if let Err(e) = wire(index) {
            delete(&ns);
            return Err(e);
        }
        return Ok(index);
    }
    Err("no free node network: 172.29.1.0/30 to 172.29.254.0/30 are all taken (`ip netns list` shows kp-N)".into())
}

fn wire(index: u8) -> Result<(), String> {
    let ns = name(index);
    let (host, node) = (format!("{}/30", host_ip(index)), format!("{}/30", node_ip(index)));
    ip(&["link", "add", &ns, "type", "veth", "peer", "name", "eth0", "netns", &ns])?;
    ip(&["addr", "add", &host, "dev", &ns])?;
    ip(&["link", "set", &ns, "up"])?;
    ip(&["-n", &ns, "addr", "add", &node, "dev", "eth0"])?;
    ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
    ip(&["-n", &ns, "link", "set", "lo", "up"])?;
    ip(&["-n", &ns, "route", "add", "default", "via", &host_ip(index).to_string()])?;
    Ok(())
}

fn interface_exists(name: &str) -> bool {
    std::path::Path::new("/sys/class/net").join(name).exists()
}

/// Deletes the namespace and the host side of its veth (the peer goes with it). Idempotent.
pub fn delete(ns: &str) {
    if interface_exists(ns) {
        let _ = ip(&["link", "del", ns]);
    }
    if netns_file(ns).exists() {
        let _ = ip(&["netns", "del", ns]);
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip").args(args).output().map_err(|e| format!("cannot run `ip`: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("`ip {}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_an_interface_name() {
        assert_eq!(name(254), "kp-254");
        assert!(name(254).len() <= 15);
        assert_eq!(host_ip(7).to_string(), "172.29.7.1");
        assert_eq!(node_ip(7).to_string(), "172.29.7.2");
    }
}
