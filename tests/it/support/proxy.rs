//! Proxies on loopback, as a user's would be. The HTTP one forwards
//! absolute-form requests (`GET http://host/path`) and tunnels `CONNECT
//! host:port`; the SOCKS5 one connects where it is asked. Each keeps what it
//! was asked, so a test can see that traffic went through it.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

use super::loopback::{Loopback, lock, read_request};

/// Bound to 127.0.0.1 on a free port; stops accepting when dropped.
pub struct Proxy {
    loopback: Loopback,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    pub fn start() -> Proxy {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let loopback = {
            let seen = Arc::clone(&seen);
            Loopback::start("the test proxy", move |stream| relay(stream, &seen))
        };
        Proxy { loopback, seen }
    }

    /// A SOCKS5 proxy (no authentication) that records `CONNECT host:port`,
    /// the host as the client sent it: a name when the client left the
    /// resolving to the proxy (`socks5h`), an address otherwise.
    pub fn start_socks() -> Proxy {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let loopback = {
            let seen = Arc::clone(&seen);
            Loopback::start("the test SOCKS proxy", move |stream| socks(stream, &seen))
        };
        Proxy { loopback, seen }
    }

    /// `http://127.0.0.1:PORT`, as a `proxy` key or `HTTP_PROXY` names it.
    pub fn url(&self) -> String {
        self.loopback.url("")
    }

    /// Every request line asked of it: `GET http://…/feed`, `CONNECT host:port`.
    pub fn seen(&self) -> Vec<String> {
        lock(&self.seen).clone()
    }
}

fn relay(mut client: TcpStream, seen: &Mutex<Vec<String>>) -> io::Result<()> {
    let Some(request) = read_request(&mut client)? else {
        return Ok(());
    };
    lock(seen).push(format!("{} {}", request.method, request.target));
    if request.method == "CONNECT" {
        let upstream = TcpStream::connect(&request.target)?;
        client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
        return tunnel(client, upstream);
    }
    let Some(rest) = request.target.strip_prefix("http://") else {
        client.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")?;
        return Ok(());
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut upstream = TcpStream::connect(authority)?;
    let mut head = format!(
        "{} {} HTTP/1.1\r\n",
        request.method,
        if path.is_empty() { "/" } else { path }
    );
    for (name, value) in &request.headers {
        if !matches!(
            name.as_str(),
            "connection" | "proxy-connection" | "keep-alive"
        ) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    upstream.write_all(head.as_bytes())?;
    upstream.write_all(&request.body)?;
    // Answered as the origin answered, then closed: one request per connection.
    io::copy(&mut upstream, &mut client)?;
    client.shutdown(Shutdown::Both)
}

fn tunnel(client: TcpStream, upstream: TcpStream) -> io::Result<()> {
    let (mut client_read, mut upstream_write) = (client.try_clone()?, upstream.try_clone()?);
    let forward = thread::spawn(move || {
        let _ = copy_until_closed(&mut client_read, &mut upstream_write);
    });
    let (mut upstream_read, mut client_write) = (upstream, client);
    let _ = copy_until_closed(&mut upstream_read, &mut client_write);
    let _ = forward.join();
    Ok(())
}

fn copy_until_closed(from: &mut TcpStream, to: &mut TcpStream) -> io::Result<()> {
    let mut buf = [0u8; 8192];
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            let _ = to.shutdown(Shutdown::Write);
            return Ok(());
        }
        to.write_all(&buf[..n])?;
    }
}

/// RFC 1928, the parts a client without credentials uses.
fn socks(mut client: TcpStream, seen: &Mutex<Vec<String>>) -> io::Result<()> {
    let mut greeting = [0u8; 2];
    client.read_exact(&mut greeting)?;
    let mut methods = vec![0u8; usize::from(greeting[1])];
    client.read_exact(&mut methods)?;
    client.write_all(&[5, 0])?;
    let mut request = [0u8; 4];
    client.read_exact(&mut request)?;
    let host = match request[3] {
        1 => {
            let mut ip = [0u8; 4];
            client.read_exact(&mut ip)?;
            std::net::Ipv4Addr::from(ip).to_string()
        }
        3 => {
            let mut len = [0u8; 1];
            client.read_exact(&mut len)?;
            let mut name = vec![0u8; usize::from(len[0])];
            client.read_exact(&mut name)?;
            String::from_utf8_lossy(&name).into_owned()
        }
        _ => {
            return Err(io::Error::other(
                "the test SOCKS proxy takes IPv4 addresses and names",
            ));
        }
    };
    let mut port = [0u8; 2];
    client.read_exact(&mut port)?;
    let target = format!("{host}:{}", u16::from_be_bytes(port));
    lock(seen).push(format!("CONNECT {target}"));
    let upstream = TcpStream::connect(&target)?;
    client.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0])?;
    tunnel(client, upstream)
}
