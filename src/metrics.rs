//! Metrics, in the Prometheus text format (`GET /metrics`).
//!
//! One registry per server instance (not a process-global one), so that
//! several servers in one process, as in the tests, count apart. Counters
//! are plain atomics: cheap enough for the per-delivery hot path.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    /// Open streams and outstanding polls, by transport.
    pub connections: IntGaugeVec,
    /// Open SSE streams (room and lobby), by what writes them: `direct`
    /// (a connection opened for the stream, answered without hyper) or
    /// `hyper` (a stream on a kept-alive or HTTP/2 connection).
    pub streams: IntGaugeVec,
    pub events_stored: IntCounter,
    /// Events written to a stream or poll answer (one per viewer).
    pub events_delivered: IntCounter,
    /// Times a viewer fell behind its room channel and caught up from SQLite.
    pub lag_recoveries: IntCounter,
    /// Viewers that resumed from a cursor, by where the missed events came
    /// from: `memory` (the room's recent events) or `database`.
    pub resumes: IntCounterVec,
    pub upload_bytes: IntCounter,
    /// Requests over plain HTTP while session cookies are `Secure`: a
    /// browser does not send such a cookie back, so each is a new visitor.
    pub insecure_requests: IntCounter,
    /// Time to the response head, by method and route.
    pub http_latency: HistogramVec,
    /// The allocator's figures, read as the registry is rendered.
    heap: Heap,
}

/// Bytes allocated by the process, and bytes the allocator holds resident
/// for it: their difference is freed memory not yet returned and
/// fragmentation, which the process's resident size does not tell apart.
/// The process's, not the server's: servers sharing a process (as in the
/// tests) show the same figures.
struct Heap {
    allocated: IntGauge,
    resident: IntGauge,
}

/// Transports, as the `transport` label says them.
#[derive(Debug, Clone, Copy)]
pub enum Transport {
    Sse,
    Poll,
    LobbySse,
    LobbyPoll,
}

impl Transport {
    pub fn label(self) -> &'static str {
        match self {
            Transport::Sse => "sse",
            Transport::Poll => "poll",
            Transport::LobbySse => "lobby_sse",
            Transport::LobbyPoll => "lobby_poll",
        }
    }
}

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new_custom(Some("gifchat".into()), None)?;
        let connections = IntGaugeVec::new(
            Opts::new("connections", "Open streams and outstanding polls"),
            &["transport"],
        )?;
        let streams = IntGaugeVec::new(
            Opts::new("streams", "Open SSE streams, by what writes them"),
            &["served_by"],
        )?;
        let events_stored = IntCounter::new("events_stored_total", "Events committed to SQLite")?;
        let events_delivered = IntCounter::new(
            "events_delivered_total",
            "Events sent to viewers (one per viewer per event)",
        )?;
        let lag_recoveries = IntCounter::new(
            "lag_recoveries_total",
            "Viewers that fell behind their room channel and caught up from SQLite",
        )?;
        let resumes = IntCounterVec::new(
            Opts::new(
                "resumes_total",
                "Viewers that resumed from a cursor, by where the missed events came from",
            ),
            &["source"],
        )?;
        let upload_bytes = IntCounter::new("upload_bytes_total", "Bytes of GIFs stored")?;
        let insecure_requests = IntCounter::new(
            "insecure_requests_total",
            "Requests over plain HTTP while session cookies are Secure (browsers do not send them back)",
        )?;
        let http_latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "Time to the response head")
                .buckets(vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ]),
            &["method", "route"],
        )?;
        registry.register(Box::new(connections.clone()))?;
        registry.register(Box::new(streams.clone()))?;
        registry.register(Box::new(events_stored.clone()))?;
        registry.register(Box::new(events_delivered.clone()))?;
        registry.register(Box::new(lag_recoveries.clone()))?;
        registry.register(Box::new(resumes.clone()))?;
        registry.register(Box::new(upload_bytes.clone()))?;
        registry.register(Box::new(insecure_requests.clone()))?;
        registry.register(Box::new(http_latency.clone()))?;
        let heap = Heap {
            allocated: IntGauge::new("heap_allocated_bytes", "Bytes allocated by the server")?,
            resident: IntGauge::new(
                "heap_resident_bytes",
                "Bytes of memory the allocator holds resident",
            )?,
        };
        registry.register(Box::new(heap.allocated.clone()))?;
        registry.register(Box::new(heap.resident.clone()))?;
        Ok(Metrics {
            registry,
            connections,
            streams,
            events_stored,
            events_delivered,
            lag_recoveries,
            resumes,
            upload_bytes,
            insecure_requests,
            http_latency,
            heap,
        })
    }

    /// The whole registry in the Prometheus text format.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        self.heap.refresh();
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        String::from_utf8(out).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

impl Heap {
    /// Reads the allocator's current figures; left as they were if it
    /// cannot tell.
    fn refresh(&self) {
        use tikv_jemalloc_ctl::{epoch, stats};
        // jemalloc caches its statistics until the epoch moves on.
        if epoch::advance().is_err() {
            return;
        }
        if let (Ok(allocated), Ok(resident)) = (stats::allocated::read(), stats::resident::read()) {
            self.allocated
                .set(i64::try_from(allocated).unwrap_or(i64::MAX));
            self.resident
                .set(i64::try_from(resident).unwrap_or(i64::MAX));
        }
    }
}
