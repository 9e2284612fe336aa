//! The CIB as the CIB manager shares it with the node's other daemons.
//!
//! After every change the controller, attribute manager, fencer and
//! executor get the new CIB and keep it until the next one. Handing each
//! version out behind an `Arc` and copying it before the next change costs
//! a full copy (and, later, a full free) of the CIB per update. Instead the
//! manager keeps two copies: the one the daemons hold now and the one they
//! held before, plus the updates that turn the older into the newer. By the
//! next change the daemons have usually dropped the older copy; replaying
//! the logged updates on it (the same deterministic functions, so the same
//! result) makes it current again without copying anything. When someone
//! still holds it, the CIB is copied as before.
//!
//! The manager also digests the whole CIB after every change (the digest
//! is reported). It keeps the serialised text of each child of the status
//! section and, from what each update changed, writes again only the
//! children that changed; the MD5 runs over the same bytes as before.

use std::collections::BTreeSet;
use std::sync::Arc;

use hasim_cib::Element;
use hasim_pcmk_proto::{CibOp, CibVersion};
use md5::{Digest, Md5};

use crate::patchset::{self, Change, PatchError, Patchset};
use crate::track::{Before, Children};

/// An update as applied to the CIB, kept to be replayed on the spare copy.
#[derive(Debug, Clone)]
enum Update {
    Op(CibOp),
    Patch(Patchset),
}

/// More updates than this since the spare copy was current: drop it.
const MAX_LOG: usize = 8;

/// The CIB and its spare copy.
pub struct SharedCib {
    current: Arc<Element>,
    /// An older version and the updates that turn it into `current`.
    spare: Option<(Arc<Element>, Vec<Update>)>,
    text: StatusText,
}

/// The serialised children of the status section, kept between digests.
#[derive(Debug, Default)]
struct StatusText {
    /// The status section's index among the root's children.
    section: Option<usize>,
    children: Vec<String>,
    /// Children changed since their text was written; `None`: all.
    dirty: Option<BTreeSet<usize>>,
}

impl StatusText {
    fn all(&mut self) {
        self.dirty = None;
    }

    fn child(&mut self, k: usize) {
        if let Some(d) = &mut self.dirty {
            d.insert(k);
        }
    }

    /// Bring the texts up to date with `cib`.
    fn refresh(&mut self, cib: &Element) {
        let section = cib.children.iter().position(|c| c.name == "status");
        let status = section.map(|i| &cib.children[i]);
        let count = status.map_or(0, |s| s.children.len());
        let write = |c: &Element| {
            let mut t = String::new();
            c.write_xml_at(&mut t, 2);
            t
        };
        match self.dirty.take() {
            Some(dirty) if section == self.section && count == self.children.len() => {
                for k in dirty {
                    if let Some(c) = status.and_then(|s| s.children.get(k)) {
                        self.children[k] = write(c);
                    }
                }
            }
            _ => {
                self.section = section;
                self.children =
                    status.map_or(Vec::new(), |s| s.children.iter().map(write).collect());
            }
        }
        self.dirty = Some(BTreeSet::new());
    }

    /// Note what an operation changed (its record, see [`Before`]).
    fn mark_op(&mut self, before: &Before) {
        match before {
            Before::Same => {}
            Before::Whole(_) => self.all(),
            Before::Changed(c) => match &c.children {
                Children::Listed(_) => self.all(),
                Children::InPlace(list) => {
                    for (i, b) in list {
                        if Some(*i) == self.section {
                            self.mark_status(b);
                        }
                    }
                }
            },
        }
    }

    fn mark_status(&mut self, before: &Before) {
        match before {
            Before::Same => {}
            Before::Whole(_) => self.all(),
            Before::Changed(c) => match &c.children {
                Children::Listed(_) => self.all(),
                Children::InPlace(list) => {
                    for (k, _) in list {
                        self.child(*k);
                    }
                }
            },
        }
    }

    /// Note what a patchset changes, from its paths, on the CIB before it
    /// is applied. Changes to the lists of the root's or the status
    /// section's children mark everything.
    fn mark_patch(&mut self, cib: &Element, p: &Patchset) {
        let Some(section) = self.section else {
            return self.all();
        };
        for change in &p.changes {
            let (path, list_depth) = match change {
                Change::Modify { path, .. } => (path, usize::MAX),
                Change::Create { parent, .. } => (parent, 1),
                Change::Delete { path } => (path, 2),
            };
            let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
            let prefix = |n: usize| format!("/{}", parts[..n.min(parts.len())].join("/"));
            let in_status =
                parts.len() >= 2 && patchset::resolve(cib, &prefix(2)).ok() == Some(vec![section]);
            // Creating or deleting a child of the root, or of the status
            // section, moves the children the texts are kept for.
            if parts.len() == list_depth
                || (in_status && parts.len() == list_depth.saturating_add(1))
            {
                return self.all();
            }
            if !in_status || parts.len() < 3 {
                continue;
            }
            match patchset::resolve(cib, &prefix(3)).as_deref() {
                Ok([s, k]) if *s == section => self.child(*k),
                _ => return self.all(),
            }
        }
    }

    /// MD5 of the CIB's serialisation, written from the kept texts.
    fn digest(&mut self, cib: &Element, buf: &mut String) -> String {
        self.refresh(cib);
        let mut md5 = Md5::new();
        buf.clear();
        if cib.children.is_empty() {
            cib.write_xml(buf);
        } else {
            cib.write_open_tag(buf, 0);
            for (i, c) in cib.children.iter().enumerate() {
                if Some(i) == self.section && !c.children.is_empty() {
                    c.write_open_tag(buf, 1);
                    md5.update(buf.as_bytes());
                    buf.clear();
                    for t in &self.children {
                        md5.update(t.as_bytes());
                    }
                    c.write_close_tag(buf, 1);
                } else {
                    c.write_xml_at(buf, 1);
                }
            }
            cib.write_close_tag(buf, 0);
        }
        md5.update(buf.as_bytes());
        md5.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl SharedCib {
    pub fn new(cib: Element) -> SharedCib {
        SharedCib {
            current: Arc::new(cib),
            spare: None,
            text: StatusText::default(),
        }
    }

    /// The digest of the current CIB ([`crate::tree::digest`]), writing
    /// only the parts changed since the last one; `buf` is scratch space.
    pub fn digest(&mut self, buf: &mut String) -> String {
        let d = self.text.digest(&self.current, buf);
        debug_assert_eq!(d, crate::tree::digest(&self.current));
        d
    }

    pub fn get(&self) -> &Element {
        &self.current
    }

    /// The current CIB for another daemon to keep.
    pub fn share(&self) -> Arc<Element> {
        self.current.clone()
    }

    /// Replace the CIB (load from disk, full sync).
    pub fn replace(&mut self, cib: Element) {
        *self = SharedCib::new(cib);
    }

    /// Apply a cibadmin operation (see [`crate::ops::apply_tracked`]).
    pub fn apply_op(&mut self, op: &CibOp) -> Result<(bool, Before), String> {
        let result = crate::ops::apply_tracked(self.writable(), op);
        if let Ok((_, before)) = &result {
            self.text.mark_op(before);
            self.log(Update::Op(op.clone()));
        }
        result
    }

    /// Apply a patchset (see [`patchset::apply`]).
    pub fn apply_patch(&mut self, p: &Patchset) -> Result<(), PatchError> {
        self.text.mark_patch(&self.current, p);
        let result = patchset::apply(self.writable(), p);
        if result.is_ok() {
            self.log(Update::Patch(p.clone()));
        }
        result
    }

    fn log(&mut self, update: Update) {
        if let Some((_, log)) = &mut self.spare {
            log.push(update);
            if log.len() > MAX_LOG {
                self.spare = None;
            }
        }
    }

    /// The current CIB, owned by us alone: when the other daemons hold it,
    /// the spare copy brought up to date takes its place (or, failing
    /// that, a copy), and the held one becomes the spare.
    fn writable(&mut self) -> &mut Element {
        if Arc::get_mut(&mut self.current).is_none() {
            let fresh = self
                .spare
                .take()
                .and_then(|(spare, log)| self.caught_up(spare, &log))
                .unwrap_or_else(|| Arc::new(Element::clone(&self.current)));
            let held = std::mem::replace(&mut self.current, fresh);
            self.spare = Some((held, Vec::new()));
        }
        Arc::get_mut(&mut self.current).expect("the current CIB is ours alone")
    }

    /// The spare copy with the logged updates replayed, if nobody else
    /// holds it and the replay reaches the current version.
    fn caught_up(&self, mut spare: Arc<Element>, log: &[Update]) -> Option<Arc<Element>> {
        let el = Arc::get_mut(&mut spare)?;
        for update in log {
            let replayed = match update {
                Update::Op(op) => crate::ops::apply(el, op).is_ok(),
                Update::Patch(p) => patchset::apply(el, p).is_ok(),
            };
            if !replayed {
                return None;
            }
        }
        let same = CibVersion::of(&el.attrs) == CibVersion::of(&self.current.attrs);
        same.then_some(spare)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{digest, empty_cib};
    use hasim_pcmk_proto::cibops;

    fn status(i: usize) -> CibOp {
        CibOp::Modify {
            section: "status".into(),
            xml: format!(r#"<node_state id="{}" n="{i}"/>"#, i % 3),
        }
    }

    /// Whatever the other daemons hold on to, the shared CIB is the one a
    /// plain copy with the same updates has, and copies are reused.
    #[test]
    fn shared_cib_follows_updates_whoever_holds_copies() {
        let mut shared = SharedCib::new(empty_cib());
        let mut plain = empty_cib();
        let mut held: Vec<Arc<Element>> = Vec::new();
        let mut reused = 0;
        for i in 0..40 {
            let op = if i % 7 == 3 {
                cibops::set_property("n", &i.to_string())
            } else {
                status(i)
            };
            let before = shared.spare.as_ref().map(|(s, _)| Arc::as_ptr(s));
            shared.apply_op(&op).unwrap();
            crate::ops::apply(&mut plain, &op).unwrap();
            assert_eq!(*shared.get(), plain, "after update {i}");
            let mut buf = String::new();
            assert_eq!(
                shared.text.digest(&shared.current, &mut buf),
                digest(&plain)
            );
            if before == Some(Arc::as_ptr(&shared.current)) {
                reused += 1;
            }
            // The daemons drop their old copy when they get the new one;
            // sometimes one keeps an old copy longer.
            if i % 5 != 0 {
                held.clear();
            }
            held.push(shared.share());
        }
        assert!(reused >= 20, "spare copy reused {reused} times");
        // A patch that does not apply leaves everything as it was.
        let bad = Patchset {
            source: CibVersion::of(&plain.attrs),
            target: CibVersion::of(&plain.attrs),
            changes: vec![patchset::Change::Delete {
                path: "/cib/status/node_state[@id='9']".into(),
            }],
        };
        assert!(shared.apply_patch(&bad).is_err());
        assert_eq!(*shared.get(), plain);
        held.clear();
        assert!(shared.apply_op(&status(50)).is_ok());
        crate::ops::apply(&mut plain, &status(50)).unwrap();
        assert_eq!(*shared.get(), plain);
    }
}
