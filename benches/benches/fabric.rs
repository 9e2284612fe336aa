//! Datagrams per second through hasim's fabric, against bare madsim UDP
//! send/recv in the same process: what the segments, partitions, loss draws,
//! ARP and tracing cost per datagram.

#[cfg(madsim)]
mod bench {
    use criterion::{Criterion, Throughput};
    use std::net::SocketAddr;

    const DATAGRAMS: u64 = 10_000;

    fn madsim_udp(count: u64) -> u64 {
        let runtime = madsim::runtime::Runtime::with_seed_and_config(1, madsim::Config::default());
        let a: SocketAddr = "10.0.0.1:9".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:9".parse().unwrap();
        let node_a = runtime.create_node().ip(a.ip()).build();
        let node_b = runtime.create_node().ip(b.ip()).build();
        let receiver = node_b.spawn(async move {
            let socket = madsim::net::UdpSocket::bind(b).await.unwrap();
            let mut buf = [0u8; 64];
            let mut received = 0;
            while received < count {
                socket.recv_from(&mut buf).await.unwrap();
                received += 1;
            }
            received
        });
        node_a.spawn(async move {
            // Let the receiver bind first.
            madsim::time::sleep(std::time::Duration::from_millis(1)).await;
            let socket = madsim::net::UdpSocket::bind(a).await.unwrap();
            for i in 0..count {
                socket.send_to(b, &i.to_be_bytes()).await.unwrap();
            }
        });
        runtime.block_on(receiver).unwrap()
    }

    pub fn datagrams(c: &mut Criterion) {
        let mut group = c.benchmark_group("datagrams");
        group.throughput(Throughput::Elements(DATAGRAMS));
        group.sample_size(20);
        group.bench_function("hasim-fabric", |b| {
            b.iter(|| assert_eq!(hasim::world::fabric_pump(DATAGRAMS, 1), DATAGRAMS))
        });
        group.bench_function("madsim-udp", |b| {
            b.iter(|| assert_eq!(madsim_udp(DATAGRAMS), DATAGRAMS))
        });
        group.finish();
    }
}

#[cfg(madsim)]
criterion::criterion_group!(benches, bench::datagrams);
#[cfg(madsim)]
criterion::criterion_main!(benches);

#[cfg(not(madsim))]
fn main() {
    eprintln!("the fabric benches need the simulator build (cargo bench)");
}
