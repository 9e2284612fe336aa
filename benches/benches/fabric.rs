//! Datagrams per second through hasim's fabric, against bare madsim UDP
//! send/recv in the same process: what the segments, partitions, loss draws,
//! ARP and tracing cost per datagram.

#[cfg(madsim)]
mod bench {
    use criterion::{Criterion, Throughput};
    use std::net::SocketAddr;

    const DATAGRAMS: u64 = 10_000;

    /// Push `count` datagrams from one host to another through the fabric
    /// and return how many arrived.
    fn fabric_pump(count: u64, seed: u64) -> u64 {
        use hasim::bus::Bus;
        use hasim::context::Shared;
        use hasim::fabric::World;
        use hasim::host::SimHost;
        use hasim::scenario::Scenario;
        use hasim::trace::TraceSink;
        use hasim::view::ClusterView;
        use hasim_node::host::Datagrams;
        use std::net::{Ipv4Addr, SocketAddrV4};
        let text = r#"
name = "fabric-pump"
duration = "1s"
[[segment]]
name = "lan"
[[node]]
name = "a"
addresses = { lan = "10.0.0.1" }
[[node]]
name = "b"
addresses = { lan = "10.0.0.2" }
[expect]
check = []
"#;
        let scenario = Scenario::parse(text, "fabric-pump").unwrap();
        let bus = Bus::new(TraceSink::new(None), ClusterView::default(), Vec::new());
        let world = World::new(&scenario, seed, bus);
        let runtime =
            madsim::runtime::Runtime::with_seed_and_config(seed, madsim::Config::default());
        runtime.block_on(async move {
            let fabric = madsim::runtime::Handle::current()
                .create_node()
                .name("fabric")
                .build();
            let shared = Shared::new(world, fabric.id());
            let a = SimHost::new(shared.clone(), 0, "a", 0);
            let b = SimHost::new(shared, 1, "b", 0);
            let mut inbox = b.bind(9).unwrap();
            let (src, dst) = (
                SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 9),
                SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 9),
            );
            for i in 0..count {
                a.send(src, dst, i.to_be_bytes().to_vec());
            }
            let mut received = 0;
            while received < count && inbox.recv().await.is_some() {
                received += 1;
            }
            received
        })
    }

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
            b.iter(|| assert_eq!(fabric_pump(DATAGRAMS, 1), DATAGRAMS))
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
