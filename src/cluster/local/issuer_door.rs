//! The address a trusted cluster's ServiceAccount issuer is served at: a loopback TCP relay
//! kubeproof holds from before the cluster starts, as a load balancer fronts a real control
//! plane. Its URL is known before the cluster has a port, so the clusters that trust it can
//! start beside it rather than after it. A connection made before the cluster serves its
//! discovery waits at the door instead of failing: a trusting kube-apiserver whose first fetch
//! fails tries again only 10 s later. The relay copies bytes; TLS is between the two API
//! servers, so kubeproof never sees, and never copies, a key.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

pub struct IssuerDoor {
    url: String,
    /// Where the door leads, once open.
    to: watch::Sender<Option<SocketAddr>>,
    relay: JoinHandle<()>,
}

impl IssuerDoor {
    /// Binds a loopback port; connections wait there until [`open`](Self::open).
    pub async fn bind() -> std::io::Result<IssuerDoor> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("https://{}", listener.local_addr()?);
        let (to, opened) = watch::channel(None);
        let relay = tokio::spawn(relay(listener, opened));
        Ok(IssuerDoor { url, to, relay })
    }

    /// `https://127.0.0.1:PORT`: the issuer, and the base of its discovery document.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Lets waiting and later connections through to `to` (the API server's address).
    pub fn open(&self, to: SocketAddr) {
        self.to.send_replace(Some(to));
    }
}

impl Drop for IssuerDoor {
    fn drop(&mut self) {
        // Ends the relay and, with its JoinSet, every connection it carries.
        self.relay.abort();
    }
}

impl std::fmt::Debug for IssuerDoor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerDoor").field("url", &self.url).field("to", &*self.to.borrow()).finish()
    }
}

async fn relay(listener: TcpListener, opened: watch::Receiver<Option<SocketAddr>>) {
    let mut connections = JoinSet::new();
    while let Ok((mut inbound, _)) = listener.accept().await {
        while connections.try_join_next().is_some() {}
        let mut opened = opened.clone();
        connections.spawn(async move {
            let Ok(to) = opened.wait_for(Option::is_some).await.map(|to| *to) else { return };
            let Some(to) = to else { return };
            // A refused connection (the API server restarting) closes this one, as a load
            // balancer with no backend would.
            if let Ok(mut outbound) = TcpStream::connect(to).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_connection_waits_until_the_door_opens_then_reaches_the_server() {
        let server = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server_addr = server.local_addr().unwrap();
        let door = IssuerDoor::bind().await.unwrap();
        let addr = door.url().trim_start_matches("https://").to_string();

        let mut client = TcpStream::connect(&addr).await.unwrap();
        client.write_all(b"ping").await.unwrap();
        // Nothing reaches the server while the door is shut.
        let early = tokio::time::timeout(std::time::Duration::from_millis(200), server.accept()).await;
        assert!(early.is_err(), "the relay connected before the door opened");

        door.open(server_addr);
        let (mut accepted, _) = server.accept().await.unwrap();
        let mut got = [0u8; 4];
        accepted.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"ping");
        accepted.write_all(b"pong").await.unwrap();
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"pong");
    }

    #[tokio::test]
    async fn dropping_the_door_closes_its_connections() {
        let server = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let door = IssuerDoor::bind().await.unwrap();
        door.open(server.local_addr().unwrap());
        let mut client = TcpStream::connect(door.url().trim_start_matches("https://")).await.unwrap();
        let (_accepted, _) = server.accept().await.unwrap();
        drop(door);
        let mut buf = [0u8; 1];
        let read = tokio::time::timeout(std::time::Duration::from_secs(5), client.read(&mut buf)).await;
        assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "the connection outlived the door: {read:?}");
    }
}
