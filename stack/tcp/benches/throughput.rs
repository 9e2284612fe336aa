//! Bytes per second of the TCP model moving a stream between two hosts over
//! the in-memory link, against the same bytes moved as bare datagrams
//! through an equivalent time-ordered queue (what the fabric does without
//! TCP).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::net::SocketAddrV4;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hasim_tcp::loopback::Net;
use hasim_tcp::{HostConfig, HostInput, SocketOptions};

const BYTES: usize = 1 << 20;

fn tcp_transfer(payload: &[u8]) -> usize {
    let mut net = Net::new(Duration::from_micros(50));
    let cfg = HostConfig {
        rcv_window: 1 << 20,
        ..HostConfig::default()
    };
    let a = net.add_host(cfg.clone(), [10, 0, 0, 1].into());
    let b = net.add_host(cfg, [10, 0, 0, 2].into());
    let server = SocketAddrV4::new([10, 0, 0, 2].into(), 80);
    net.listen(b, server, SocketOptions::default())
        .expect("listen");
    let id = net
        .connect(a, [10, 0, 0, 1].into(), server, &SocketOptions::default())
        .expect("connect");
    net.run_until(Duration::from_millis(1));
    net.input(a, HostInput::Send(id, payload.to_vec()));
    net.run_until(Duration::from_secs(5));
    net.events.len()
}

fn bare_datagrams(payload: &[u8]) -> usize {
    let mut queue: BTreeMap<(Duration, u64), Vec<u8>> = BTreeMap::new();
    let mut delivered = 0;
    for (i, chunk) in payload.chunks(1460).enumerate() {
        let mut d = Vec::with_capacity(chunk.len() + 17);
        d.extend_from_slice(&[0u8; 17]);
        d.extend_from_slice(chunk);
        queue.insert((Duration::from_micros(50 + i as u64), i as u64), d);
    }
    while let Some((_, d)) = queue.pop_first() {
        delivered += black_box(d[17..].to_vec()).len();
    }
    delivered
}

fn bench(c: &mut Criterion) {
    let payload: Vec<u8> = (0..BYTES).map(|i| (i % 251) as u8).collect();
    let mut g = c.benchmark_group("stream_1MiB");
    g.throughput(Throughput::Bytes(BYTES as u64));
    g.sample_size(20);
    g.bench_function("tcp_model", |b| {
        b.iter(|| tcp_transfer(black_box(&payload)))
    });
    g.bench_function("bare_datagrams", |b| {
        b.iter(|| bare_datagrams(black_box(&payload)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
