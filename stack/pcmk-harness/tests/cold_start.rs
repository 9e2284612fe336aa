mod common;

use common::*;
use hasim_pcmk_harness::Cluster;
use hasim_pcmk_proto::checkers;

#[test]
fn cold_start_elects_one_dc_and_starts_everything() {
    let mut c = Cluster::new(3, &cib("stop"), vec![], 1).unwrap();
    c.start_all();
    c.run_until(s(60));
    for t in c.transitions() {
        eprintln!("{:?} {} #{} {}: {:?}", t.0, t.1, t.2, t.3, t.4);
    }
    let dcs = c.dcs();
    eprintln!("{dcs:?}");
    let dc = dcs[0].1.clone().expect("a DC");
    assert!(
        dcs.iter().all(|(_, d)| d.as_deref() == Some(dc.as_str())),
        "{dcs:?}"
    );
    assert_eq!(c.active_on("vip").len(), 1);
    assert_eq!(c.active_on("haproxy").len(), 3);
    assert_eq!(c.active_on("d").len(), 1);
    let cib = hasim_cib::Cib::from_xml(&common::cib("stop")).unwrap();
    checkers::resource_single_active(&c.events, &checkers::unique_resources(&cib)).unwrap();
    checkers::single_dc(&c.events, s(30)).unwrap();
    checkers::cib_converges(&c.events).unwrap();
}
