//! Every CIB of Pacemaker's scheduler regression corpus parses, and writing
//! the model back yields XML that parses to an equal model.

use std::path::PathBuf;

use hasim_cib::Cib;

fn corpus() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/scheduler-corpus/xml"
    ))
}

#[test]
fn corpus_parses_and_round_trips() {
    let dir = corpus();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus directory")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    assert!(
        entries.len() > 700,
        "corpus looks incomplete: {}",
        entries.len()
    );
    let mut parsed = 0;
    for path in entries {
        let text = std::fs::read_to_string(&path).expect("read");
        let cib = match Cib::from_xml(&text) {
            Ok(c) => c,
            Err(e) => panic!("{}: {e}", path.display()),
        };
        // The writer expands id-refs in place, so a rewritten CIB may repeat
        // ids: re-read it without schema validation.
        let rewritten = hasim_cib::xml::parse(&cib.to_xml())
            .unwrap_or_else(|e| panic!("{} rewritten: {e}", path.display()));
        let again = Cib::from_element(&rewritten)
            .unwrap_or_else(|e| panic!("{} rewritten: {e}", path.display()));
        assert!(cib == again, "{} did not round-trip", path.display());
        parsed += 1;
    }
    assert!(parsed > 700);
}

#[test]
fn bad_xml_reports_position() {
    let err = Cib::from_xml("<cib>\n <configuration>\n  <nodes>\n </configuration>\n</cib>")
        .expect_err("bad");
    assert!(err.line >= 3, "{err}");
    let err = Cib::from_xml("<cib/>").expect_err("no configuration");
    assert_eq!((err.line, err.column), (1, 1));
}
