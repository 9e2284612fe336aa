//! What a Galera node keeps on the machine's [`Disk`]: `grastate.dat` and
//! the storage engine (data and last committed seqno).
//!
//! Writing the whole engine at every commit would cost as much as the data
//! grows, so the engine is a snapshot plus one record per committed seqno
//! after it, like a redo log:
//!
//! * `galera/grastate.dat`: the file as Galera writes it.
//! * `galera/engine`: `GEN SEQNO` on the first line, then `key v1,v2,...`
//!   lines: the data as of `SEQNO`.
//! * `galera/ws/N`: `GEN key value` (or `GEN -` for a write-set that failed
//!   certification): what commit `N` stored.
//!
//! `GEN` names the snapshot a record belongs to. A state transfer or a new
//! boot writes a new snapshot with a new `GEN`, so records left over from
//! an older history (a node that later took a state transfer at a lower
//! seqno) are never replayed onto it. The disk has no delete; stale records
//! are simply ignored.
//!
//! [`Disk`]: crate::host::Disk

use crate::host::Disk;
use hasim_galera::grastate::{Grastate, NIL_UUID};
use hasim_galera::node::Disk as EngineDisk;
use std::collections::{BTreeMap, BTreeSet};

/// Where mysqld keeps `grastate.dat` (named in errors).
pub const GRASTATE_FILE: &str = "/var/lib/mysql/grastate.dat";
const GRASTATE_KEY: &str = "galera/grastate.dat";
const ENGINE_KEY: &str = "galera/engine";
const VIEW_STATE_KEY: &str = "galera/gvwstate.dat";

/// The primary component saved in `gvwstate.dat` (empty: none saved).
pub fn view_state(host: &dyn Disk) -> BTreeSet<String> {
    host.load(VIEW_STATE_KEY)
        .map(|b| {
            String::from_utf8_lossy(&b)
                .split(',')
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// What a node finds on its disk before mysqld starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovered {
    /// `grastate.dat`, if the node ever started.
    pub grastate: Option<Grastate>,
    /// The engine as recovered.
    pub disk: EngineDisk,
}

impl Recovered {
    /// The last committed seqno as `mysqld --wsrep-recover` finds it: the
    /// file's after a clean shutdown, the engine's after a crash, −1 for a
    /// node that never committed.
    pub fn last_commit(&self) -> i64 {
        self.disk.grastate.recovered_seqno(self.disk.committed)
    }
}

/// Reads `grastate.dat` and the engine; an unreadable one is an error
/// naming the file and line.
pub fn recover(host: &dyn Disk) -> Result<Recovered, String> {
    let grastate = match host.load(GRASTATE_KEY) {
        None => None,
        Some(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            Some(Grastate::parse(GRASTATE_FILE, &text).map_err(|e| e.to_string())?)
        }
    };
    let (generation, mut committed, mut data) = match host.load(ENGINE_KEY) {
        None => (String::new(), -1, BTreeMap::new()),
        Some(bytes) => parse_snapshot(&String::from_utf8_lossy(&bytes))?,
    };
    while let Some(bytes) = host.load(&ws_key(committed + 1)) {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let mut words = text.split(' ');
        if words.next() != Some(generation.as_str()) {
            break;
        }
        committed += 1;
        if let (Some(key), Some(value)) = (words.next(), words.next()) {
            let value = value
                .parse::<u64>()
                .map_err(|_| format!("{}: value `{value}` is not a number", ws_key(committed)))?;
            data.entry(key.to_string())
                .or_insert_with(BTreeSet::new)
                .insert(value);
        }
    }
    let file = grastate
        .clone()
        .unwrap_or_else(|| Grastate::running(NIL_UUID));
    Ok(Recovered {
        grastate,
        disk: EngineDisk {
            grastate: file,
            committed,
            data,
        },
    })
}

type Snapshot = (String, i64, BTreeMap<String, BTreeSet<u64>>);

fn parse_snapshot(text: &str) -> Result<Snapshot, String> {
    let mut lines = text.lines();
    let head = lines.next().unwrap_or_default();
    let bad = |line: usize, what: &str| format!("{ENGINE_KEY}:{line}: expected {what}");
    let (generation, seqno) = head.split_once(' ').ok_or_else(|| bad(1, "`GEN SEQNO`"))?;
    let seqno: i64 = seqno.parse().map_err(|_| bad(1, "`GEN SEQNO`"))?;
    let mut data = BTreeMap::new();
    for (i, line) in lines.enumerate() {
        let (key, values) = line
            .split_once(' ')
            .ok_or_else(|| bad(i + 2, "`key v1,v2,...`"))?;
        let values: Result<BTreeSet<u64>, _> = values
            .split(',')
            .filter(|v| !v.is_empty())
            .map(str::parse)
            .collect();
        data.insert(
            key.to_string(),
            values.map_err(|_| bad(i + 2, "`key v1,v2,...`"))?,
        );
    }
    Ok((generation.to_string(), seqno, data))
}

fn ws_key(seqno: i64) -> String {
    format!("galera/ws/{seqno}")
}

/// Writes a running node's durable state.
#[derive(Debug)]
pub struct EngineStore {
    boot: u64,
    snapshots: u64,
    generation: String,
}

impl EngineStore {
    /// Recovers the disk and starts a new snapshot of it for this boot.
    /// Also says whether this is the node's very first start (no
    /// `grastate.dat`).
    pub fn open(host: &dyn Disk) -> Result<(EngineStore, EngineDisk, bool), String> {
        let recovered = recover(host)?;
        let mut store = EngineStore {
            boot: host.boot_epoch(),
            snapshots: 0,
            generation: String::new(),
        };
        store.snapshot(host, &recovered.disk);
        Ok((store, recovered.disk, recovered.grastate.is_none()))
    }

    /// `grastate.dat` as the core wrote it.
    pub fn write_grastate(&self, host: &dyn Disk, g: &Grastate) {
        host.store(GRASTATE_KEY, g.render().into_bytes());
    }

    /// `gvwstate.dat`: the primary component, or none.
    pub fn write_view_state(&self, host: &dyn Disk, view: Option<&BTreeSet<String>>) {
        let names: Vec<&str> = view
            .iter()
            .flat_map(|v| v.iter())
            .map(String::as_str)
            .collect();
        host.store(VIEW_STATE_KEY, names.join(",").into_bytes());
    }

    /// Commit `seqno`, which stored `write` (none: failed certification).
    pub fn commit(&self, host: &dyn Disk, seqno: i64, write: Option<&(String, u64)>) {
        let record = match write {
            Some((key, value)) => format!("{} {key} {value}", self.generation),
            None => format!("{} -", self.generation),
        };
        host.store(&ws_key(seqno), record.into_bytes());
    }

    /// The whole engine, replacing what was there (a state transfer).
    pub fn snapshot(&mut self, host: &dyn Disk, disk: &EngineDisk) {
        self.snapshots += 1;
        self.generation = format!("{}.{}", self.boot, self.snapshots);
        let mut text = format!("{} {}\n", self.generation, disk.committed);
        for (key, values) in &disk.data {
            let vs: Vec<String> = values.iter().map(u64::to_string).collect();
            text.push_str(&format!("{key} {}\n", vs.join(",")));
        }
        host.store(ENGINE_KEY, text.into_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[derive(Default)]
    struct Platter {
        files: RefCell<BTreeMap<String, Vec<u8>>>,
        boot: u64,
    }
    impl Disk for Platter {
        fn load(&self, key: &str) -> Option<Vec<u8>> {
            self.files.borrow().get(key).cloned()
        }
        fn store(&self, key: &str, value: Vec<u8>) {
            self.files.borrow_mut().insert(key.into(), value);
        }
        fn boot_epoch(&self) -> u64 {
            self.boot
        }
    }

    const U: &str = "5ee99582-bb8d-11e2-b8e3-23de375c1d30";

    #[test]
    fn a_new_node_has_no_grastate_and_nothing_committed() {
        let p = Platter::default();
        let (_, disk, first) = EngineStore::open(&p).unwrap();
        assert!(first);
        assert_eq!(disk.committed, -1);
        assert!(disk.data.is_empty());
    }

    #[test]
    fn commits_survive_a_reboot_and_the_seqno_is_recovered_after_a_crash() {
        let mut p = Platter::default();
        let (store, _, _) = EngineStore::open(&p).unwrap();
        store.write_grastate(&p, &Grastate::running(U));
        store.commit(&p, 0, Some(&("k1".into(), 7)));
        store.commit(&p, 1, None);
        store.commit(&p, 2, Some(&("k1".into(), 9)));
        p.boot = 1;
        let r = recover(&p).unwrap();
        assert_eq!(r.last_commit(), 2);
        assert_eq!(r.disk.data["k1"], [7, 9].into());
        let (_, disk, first) = EngineStore::open(&p).unwrap();
        assert!(!first);
        assert_eq!(disk.committed, 2);
        // A clean shutdown's grastate seqno wins over the engine's.
        let st = EngineStore::open(&p).unwrap().0;
        st.write_grastate(&p, &Grastate::clean_shutdown(U, 2, true));
        assert_eq!(recover(&p).unwrap().last_commit(), 2);
    }

    #[test]
    fn records_of_an_older_history_are_not_replayed_after_a_state_transfer() {
        let p = Platter::default();
        let (mut store, _, _) = EngineStore::open(&p).unwrap();
        for n in 0..5 {
            store.commit(&p, n, Some(&("k".into(), n as u64)));
        }
        let sst = EngineDisk {
            grastate: Grastate::running(U),
            committed: 2,
            data: [("k".to_string(), [100].into())].into(),
        };
        store.snapshot(&p, &sst);
        let r = recover(&p).unwrap();
        assert_eq!(r.disk.committed, 2);
        assert_eq!(r.disk.data["k"], [100].into());
    }

    #[test]
    fn the_saved_primary_component_survives_and_is_removed_on_clean_shutdown() {
        let p = Platter::default();
        assert!(view_state(&p).is_empty());
        let (store, _, _) = EngineStore::open(&p).unwrap();
        let view: BTreeSet<String> = ["n1".to_string(), "n3".to_string()].into();
        store.write_view_state(&p, Some(&view));
        assert_eq!(view_state(&p), view);
        store.write_view_state(&p, None);
        assert!(view_state(&p).is_empty());
    }

    #[test]
    fn an_unreadable_grastate_names_file_and_line() {
        let p = Platter::default();
        p.store(GRASTATE_KEY, b"version: 2.1\nuuid: nope\n".to_vec());
        let e = recover(&p).unwrap_err();
        assert!(e.starts_with("/var/lib/mysql/grastate.dat:2: uuid"), "{e}");
        p.store(GRASTATE_KEY, Grastate::running(U).render().into_bytes());
        p.store(ENGINE_KEY, b"1.1 x\n".to_vec());
        assert_eq!(
            recover(&p).unwrap_err(),
            "galera/engine:1: expected `GEN SEQNO`"
        );
    }
}
