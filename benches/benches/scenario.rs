//! Whole simulated runs: how many runs per second one core gives, and so how
//! many simulated seconds per wall second.

#[cfg(madsim)]
mod bench {
    use criterion::Criterion;
    use hasim::scenario::Scenario;
    use std::path::PathBuf;

    fn load(name: &str) -> Scenario {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios")
            .join(name);
        Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn runs(c: &mut Criterion) {
        let mut group = c.benchmark_group("run");
        group.sample_size(20);
        for name in ["keepalived-split-brain.toml", "keepalived-nemesis.toml"] {
            let scenario = load(name);
            let mut seed = 0;
            group.bench_function(name.trim_end_matches(".toml"), |b| {
                b.iter(|| {
                    seed += 1;
                    hasim::world::run(&scenario, seed, None).unwrap()
                })
            });
        }
        group.finish();
    }
}

#[cfg(madsim)]
criterion::criterion_group!(benches, bench::runs);
#[cfg(madsim)]
criterion::criterion_main!(benches);

#[cfg(not(madsim))]
fn main() {
    eprintln!("the scenario benches need the simulator build (cargo bench)");
}
