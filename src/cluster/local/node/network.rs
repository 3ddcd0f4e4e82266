//! The node's network: a network namespace `kp-N` joined to the host by a veth pair, as a kind
//! node is joined to its Docker network. Host side `kp-N` 172.29.N.1/30, node side `eth0`
//! 172.29.N.2/30 with its default route through the host. Everything a node adds to its
//! network (the CNI bridge, pod veths, kube-proxy's and the bridge plugin's iptables rules)
//! lives in that namespace and dies with it.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;

use super::NodeError;

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
pub fn create() -> Result<u8, NodeError> {
    let routes = routed_networks();
    for index in 1..=254u8 {
        let ns = name(index);
        // A network the machine already routes (a Docker network in 172.16/12, say) is left alone.
        if netns_file(&ns).exists() || interface_exists(&ns) || routes.iter().any(|net| net.contains(host_ip(index))) {
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
    Err(NodeError::NoNetwork)
}

fn wire(index: u8) -> Result<(), NodeError> {
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

/// An IPv4 network, `address/prefix`.
#[derive(Debug, PartialEq, Eq)]
struct Network {
    address: u32,
    prefix: u32,
}

impl Network {
    fn parse(text: &str) -> Option<Network> {
        let (address, prefix) = text.split_once('/').unwrap_or((text, "32"));
        let address: Ipv4Addr = address.parse().ok()?;
        let prefix: u32 = prefix.parse().ok().filter(|p| *p <= 32)?;
        Some(Network { address: u32::from(address), prefix })
    }

    fn contains(&self, ip: Ipv4Addr) -> bool {
        let mask = if self.prefix == 0 { 0 } else { u32::MAX << (32 - self.prefix) };
        (u32::from(ip) & mask) == (self.address & mask)
    }
}

/// The networks of the machine's IPv4 routes, the default route and ours (`kp-*`) aside.
fn routed_networks() -> Vec<Network> {
    let Ok(out) = Command::new("ip").args(["-4", "route", "show", "table", "all"]).output() else { return Vec::new() };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|line| !line.contains(" dev kp-"))
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let first = words.next()?;
            // `local 10.0.0.1 dev …`, `broadcast …`: the address follows the route type.
            let destination = if ["local", "broadcast", "unicast"].contains(&first) { words.next()? } else { first };
            (destination != "default").then(|| Network::parse(destination)).flatten()
        })
        .filter(|n| n.prefix > 0)
        .collect()
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

fn ip(args: &[&str]) -> Result<(), NodeError> {
    let out = Command::new("ip").args(args).output().map_err(NodeError::IpRun)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(NodeError::Ip { args: args.join(" "), stderr: String::from_utf8_lossy(&out.stderr).trim().to_string() })
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

    #[test]
    fn routed_networks_contain_their_addresses() {
        let docker = Network::parse("172.16.0.0/12").unwrap();
        assert!(docker.contains(host_ip(7)), "172.29.7.1 is inside 172.16.0.0/12");
        let kind = Network::parse("172.18.0.0/16").unwrap();
        assert!(!kind.contains(host_ip(7)));
        let host = Network::parse("172.29.7.1").unwrap();
        assert_eq!(host.prefix, 32);
        assert!(host.contains(host_ip(7)) && !host.contains(node_ip(7)));
        assert_eq!(Network::parse("nonsense"), None);
        assert_eq!(Network::parse("10.0.0.0/33"), None);
    }
}
