//! A minimal HTTP/1.1 client over a plain `TcpStream`: enough to speak to
//! gifchat from tens of thousands of connections at once, which a
//! general-purpose client per connection would make too heavy.

use std::{io, net::SocketAddr, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Every request and every wait for an answer is bounded by this.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Conn {
    pub stream: TcpStream,
    /// Bytes read but not consumed yet are `buf[pos..]`.
    buf: Vec<u8>,
    pos: usize,
}

/// Status line and the headers the benchmark cares about.
pub struct Head {
    pub status: u16,
    pub content_length: Option<usize>,
    pub chunked: bool,
    /// `name=value` of a `Set-Cookie` header, when there is one.
    pub cookie: Option<String>,
    /// Nchan's cursor (`nchan.rs`).
    pub last_modified: Option<String>,
    pub etag: Option<String>,
}

pub struct Response {
    pub head: Head,
    pub body: Vec<u8>,
}

pub fn err(text: impl Into<String>) -> io::Error {
    io::Error::other(text.into())
}

impl Conn {
    pub async fn connect(addr: SocketAddr) -> io::Result<Conn> {
        let stream = tokio::time::timeout(ANSWER_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| err("connect timed out"))??;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(4096),
            pos: 0,
        })
    }

    pub async fn send(&mut self, request: &[u8]) -> io::Result<()> {
        self.stream.write_all(request).await
    }

    async fn fill(&mut self) -> io::Result<()> {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        if self.buf.capacity() - self.buf.len() < 2048 {
            self.buf.reserve(8192);
        }
        let n = self.stream.read_buf(&mut self.buf).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        Ok(())
    }

    pub async fn read_head(&mut self) -> io::Result<Head> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(&self.buf[self.pos..]) {
                Ok(httparse::Status::Complete(len)) => {
                    let mut head = Head {
                        status: response.code.unwrap_or(0),
                        content_length: None,
                        chunked: false,
                        cookie: None,
                        last_modified: None,
                        etag: None,
                    };
                    for h in response.headers.iter() {
                        if h.name.eq_ignore_ascii_case("content-length") {
                            head.content_length = std::str::from_utf8(h.value)
                                .ok()
                                .and_then(|v| v.parse().ok());
                        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                            head.chunked = h.value.eq_ignore_ascii_case(b"chunked");
                        } else if h.name.eq_ignore_ascii_case("set-cookie") {
                            let value = String::from_utf8_lossy(h.value);
                            head.cookie = value.split(';').next().map(str::to_owned);
                        } else if h.name.eq_ignore_ascii_case("last-modified") {
                            head.last_modified = Some(String::from_utf8_lossy(h.value).into());
                        } else if h.name.eq_ignore_ascii_case("etag") {
                            head.etag = Some(String::from_utf8_lossy(h.value).into());
                        }
                    }
                    self.pos += len;
                    return Ok(head);
                }
                Ok(httparse::Status::Partial) => self.fill().await?,
                Err(e) => return Err(err(format!("bad response head: {e}"))),
            }
        }
    }

    pub async fn read_body(&mut self, head: &Head) -> io::Result<Vec<u8>> {
        if head.chunked {
            let mut body = Vec::new();
            let mut decoder = Chunked::default();
            loop {
                let input = &self.buf[self.pos..];
                let (used, done) = decoder.feed(input, |data| body.extend_from_slice(data))?;
                self.pos += used;
                if done {
                    return Ok(body);
                }
                self.fill().await?;
            }
        }
        let len = head.content_length.unwrap_or(0);
        while self.buf.len() - self.pos < len {
            self.fill().await?;
        }
        let body = self.buf[self.pos..self.pos + len].to_vec();
        self.pos += len;
        Ok(body)
    }

    /// Sends a request and reads its whole answer, within [`ANSWER_TIMEOUT`].
    pub async fn request(&mut self, request: &[u8]) -> io::Result<Response> {
        self.request_within(request, ANSWER_TIMEOUT).await
    }

    pub async fn request_within(
        &mut self,
        request: &[u8],
        limit: Duration,
    ) -> io::Result<Response> {
        tokio::time::timeout(limit, async {
            self.send(request).await?;
            let head = self.read_head().await?;
            let body = self.read_body(&head).await?;
            Ok(Response { head, body })
        })
        .await
        .map_err(|_| err("no answer in time"))?
    }

    /// The stream and whatever was read past the response head.
    pub fn into_parts(self) -> (TcpStream, Vec<u8>) {
        (self.stream, self.buf[self.pos..].to_vec())
    }
}

/// Incremental decoder of `Transfer-Encoding: chunked`.
#[derive(Default)]
pub struct Chunked {
    state: State,
}

#[derive(Default, Clone, Copy)]
enum State {
    /// Reading the hex size; `ext` once past it (an extension or CR).
    #[default]
    Start,
    Size {
        size: usize,
        ext: bool,
    },
    Data(usize),
    /// The CRLF after a chunk's data.
    DataEnd,
    Done,
}

impl Chunked {
    /// Decodes as much of `input` as possible, handing out data slices.
    /// Returns the bytes used and whether the last chunk was seen.
    pub fn feed(&mut self, input: &[u8], mut out: impl FnMut(&[u8])) -> io::Result<(usize, bool)> {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                State::Start => {
                    self.state = State::Size {
                        size: 0,
                        ext: false,
                    }
                }
                State::Size { size, ext } => {
                    let b = input[i];
                    i += 1;
                    match (b, ext) {
                        (b'\n', _) if size == 0 => {
                            // Last chunk: trailers are never sent by gifchat,
                            // so one more CRLF ends the body.
                            self.state = State::Done;
                        }
                        (b'\n', _) => self.state = State::Data(size),
                        (_, true) => {}
                        (b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F', false) => {
                            let digit = (b as char).to_digit(16).unwrap_or(0) as usize;
                            self.state = State::Size {
                                size: size * 16 + digit,
                                ext: false,
                            };
                        }
                        (b'\r' | b';' | b' ', false) => {
                            self.state = State::Size { size, ext: true }
                        }
                        _ => return Err(err("bad chunk size")),
                    }
                }
                State::Data(left) => {
                    let take = left.min(input.len() - i);
                    out(&input[i..i + take]);
                    i += take;
                    self.state = if take == left {
                        State::DataEnd
                    } else {
                        State::Data(left - take)
                    };
                }
                State::DataEnd => {
                    let b = input[i];
                    i += 1;
                    if b == b'\n' {
                        self.state = State::Start;
                    }
                }
                State::Done => {
                    // Skip the final CRLF.
                    let b = input[i];
                    i += 1;
                    if b == b'\n' {
                        return Ok((i, true));
                    }
                }
            }
        }
        Ok((i, false))
    }
}

/// A cookie header line, or nothing.
pub fn cookie_line(cookie: Option<&str>) -> String {
    cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default()
}
