//! The CIB manager core. Replication follows Pacemaker's primary/secondary
//! scheme: the DC's CIB manager is the primary (the controller tells it);
//! updates are multicast as requests, the primary applies them in agreed
//! order and multicasts the resulting patchset; every other node applies
//! the patchset if its CIB is at the source version and otherwise asks the
//! primary for a full copy. With no primary (no DC yet), a node applies
//! requests to its own copy (Pacemaker's local scope); the DC's join sync
//! later makes every copy the newest one.

use std::collections::BTreeMap;
use std::time::Duration;

use hasim_cib::xml::parse;
use hasim_cib::Element;
use hasim_pcmk_proto::{
    decode, encode, Action, CibOp, CibRequest, CibVersion, Daemon, Event, Input, LocalMsg, NodeId,
};
use serde::{Deserialize, Serialize};

use crate::patchset::{self, PatchError, Patchset};
use crate::shared::SharedCib;
use crate::track::Before;
use crate::tree::{digest, empty_cib, without_status};

/// Disk keys of the CIB and its digest.
pub const DISK_CIB: &str = "cib.xml";
pub const DISK_SIG: &str = "cib.xml.sig";

/// What goes over the `cib` CPG group.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Wire {
    Request {
        origin: String,
        call_id: u64,
        op: CibOp,
    },
    Reply {
        origin: String,
        call_id: u64,
        result: Result<CibVersion, String>,
    },
    Patch {
        from: String,
        xml: String,
    },
    Primary {
        node: String,
        primary: bool,
    },
    SyncFrom {
        node: String,
    },
    SyncRequest {
        from: String,
    },
    Replace {
        from: String,
        xml: String,
    },
}

/// Who asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Requester {
    Local(Daemon, u64),
    Client,
}

/// The disk image for a CIB (what a driver pre-seeds before first boot).
pub fn disk_image(cib_xml: &str) -> Result<Vec<(String, Vec<u8>)>, hasim_cib::XmlError> {
    let cib = without_status(&parse(cib_xml)?);
    Ok(vec![
        (DISK_SIG.to_string(), digest(&cib).into_bytes()),
        (DISK_CIB.to_string(), cib.to_xml_string().into_bytes()),
    ])
}

/// One node's CIB manager.
pub struct Based {
    node: String,
    cib: SharedCib,
    ready: bool,
    sig: Option<String>,
    primary: bool,
    primary_peer: Option<(String, NodeId)>,
    next_call: u64,
    pending: BTreeMap<u64, (Requester, CibOp)>,
    queued: Vec<(Requester, CibOp)>,
    /// Reused for serialising the CIB to digest it after every change.
    scratch: String,
}

impl Based {
    pub fn new(node: &str) -> Based {
        Based {
            node: node.to_string(),
            cib: SharedCib::new(empty_cib()),
            ready: false,
            sig: None,
            primary: false,
            primary_peer: None,
            next_call: 1,
            pending: BTreeMap::new(),
            queued: Vec::new(),
            scratch: String::new(),
        }
    }

    /// The current CIB.
    pub fn cib(&self) -> &Element {
        self.cib.get()
    }

    pub fn version(&self) -> CibVersion {
        CibVersion::of(&self.cib.get().attrs)
    }

    pub fn handle(&mut self, _now: Duration, input: Input) -> Vec<Action> {
        let mut out = Vec::new();
        match input {
            Input::Start => {
                *self = Based::new(&self.node);
                out.push(Action::Load {
                    key: DISK_SIG.into(),
                });
                out.push(Action::Load {
                    key: DISK_CIB.into(),
                });
            }
            Input::Loaded { key, data } => self.loaded(&key, data, &mut out),
            Input::ConfChange(cc) => {
                let lost = self
                    .primary_peer
                    .as_ref()
                    .is_some_and(|(_, id)| !cc.members.iter().any(|m| m.node == *id));
                if lost {
                    self.primary_peer = None;
                    self.retry_pending_locally(&mut out);
                }
                if self.primary && !cc.joined.is_empty() {
                    self.announce_primary(&mut out);
                }
            }
            Input::Deliver { from, data } => {
                if let Some(w) = decode::<Wire>(&data) {
                    self.deliver(from.node, w, &mut out);
                }
            }
            Input::Local { from, msg } => self.local(from, msg, &mut out),
            Input::Client(op) => self.request(Requester::Client, op, &mut out),
            Input::Quorum { .. } | Input::Timer(_) => {}
        }
        out
    }

    fn loaded(&mut self, key: &str, data: Option<Vec<u8>>, out: &mut Vec<Action>) {
        if key == DISK_SIG {
            self.sig = data.map(|d| String::from_utf8_lossy(&d).trim().to_string());
            return;
        }
        if key != DISK_CIB {
            return;
        }
        if let Some(bytes) = data {
            let text = String::from_utf8_lossy(&bytes);
            match parse(&text) {
                Ok(cib) if Some(digest(&cib)) == self.sig => self.cib.replace(without_status(&cib)),
                Ok(_) => self.error("on-disk CIB digest mismatch: contents ignored", out),
                Err(e) => self.error(&format!("on-disk CIB {DISK_CIB}: {e}"), out),
            }
        }
        self.ready = true;
        self.changed(false, out);
        for (req, op) in std::mem::take(&mut self.queued) {
            self.request(req, op, out);
        }
    }

    fn error(&self, message: &str, out: &mut Vec<Action>) {
        out.push(Action::Report(Event::CibError {
            node: self.node.clone(),
            message: message.to_string(),
        }));
    }

    fn local(&mut self, from: Daemon, msg: LocalMsg, out: &mut Vec<Action>) {
        match msg {
            LocalMsg::CibRequest(CibRequest { call_id, op }) => {
                self.request(Requester::Local(from, call_id), op, out)
            }
            LocalMsg::CibPrimary(p) => {
                self.primary = p;
                self.announce_primary(out);
            }
            LocalMsg::CibSync { from } => match from {
                Some(n) if n != self.node => self.multicast(Wire::SyncFrom { node: n }, out),
                _ => self.send_full(out),
            },
            _ => {}
        }
    }

    fn announce_primary(&self, out: &mut Vec<Action>) {
        self.multicast(
            Wire::Primary {
                node: self.node.clone(),
                primary: self.primary,
            },
            out,
        );
    }

    fn multicast(&self, w: Wire, out: &mut Vec<Action>) {
        out.push(Action::Multicast(encode(&w)));
    }

    fn send_full(&self, out: &mut Vec<Action>) {
        self.multicast(
            Wire::Replace {
                from: self.node.clone(),
                xml: self.cib.get().to_xml_string(),
            },
            out,
        );
    }

    fn request(&mut self, req: Requester, op: CibOp, out: &mut Vec<Action>) {
        if op == CibOp::Query {
            let v = self.version();
            self.answer(req, Ok(v), Some(self.cib.get().to_xml_string()), out);
            return;
        }
        if !self.ready {
            self.queued.push((req, op));
            return;
        }
        if self.primary_peer.is_some() {
            let call_id = self.next_call;
            self.next_call += 1;
            self.pending.insert(call_id, (req, op.clone()));
            let origin = self.node.clone();
            self.multicast(
                Wire::Request {
                    origin,
                    call_id,
                    op,
                },
                out,
            );
        } else {
            let result = self.apply_local(&op, out);
            self.answer(req, result, None, out);
        }
    }

    fn retry_pending_locally(&mut self, out: &mut Vec<Action>) {
        for (_, (req, op)) in std::mem::take(&mut self.pending) {
            let result = self.apply_local(&op, out);
            self.answer(req, result, None, out);
        }
    }

    /// Apply an update to our copy; report and persist if it changed.
    fn apply_local(&mut self, op: &CibOp, out: &mut Vec<Action>) -> Result<CibVersion, String> {
        self.apply_tracked(op, out).map(|(v, _)| v)
    }

    /// [`Self::apply_local`], also returning what the update changed when
    /// it changed anything (for the patchset).
    fn apply_tracked(
        &mut self,
        op: &CibOp,
        out: &mut Vec<Action>,
    ) -> Result<(CibVersion, Option<Before>), String> {
        let before = self.version();
        let (config_changed, changes) = self.cib.apply_op(op)?;
        let changed = self.version() != before;
        if changed {
            self.changed(config_changed, out);
        }
        Ok((self.version(), changed.then_some(changes)))
    }

    fn answer(
        &self,
        req: Requester,
        result: Result<CibVersion, String>,
        xml: Option<String>,
        out: &mut Vec<Action>,
    ) {
        match req {
            Requester::Local(d, call_id) => out.push(Action::Send {
                to: d,
                msg: LocalMsg::CibReply {
                    call_id,
                    result,
                    xml,
                },
            }),
            Requester::Client => match (result, xml) {
                (Err(e), _) => self.error(&format!("client request refused: {e}"), out),
                // cibadmin -Q prints the CIB: it goes into the trace.
                (Ok(_), Some(xml)) => out.push(Action::Report(Event::CibQueried {
                    node: self.node.clone(),
                    xml,
                })),
                (Ok(_), None) => {}
            },
        }
    }

    /// Tell the local daemons, report the version, write the disk copy.
    fn changed(&mut self, config_changed: bool, out: &mut Vec<Action>) {
        let v = self.version();
        let d = self.cib.digest(&mut self.scratch);
        out.push(Action::Report(Event::CibVersion {
            node: self.node.clone(),
            admin_epoch: v.admin_epoch,
            epoch: v.epoch,
            num_updates: v.num_updates,
            digest: d.clone(),
        }));
        let shared = self.cib.share();
        for to in [Daemon::Controld, Daemon::Attrd] {
            out.push(Action::Send {
                to,
                msg: LocalMsg::CibUpdated {
                    version: v,
                    digest: d.clone(),
                    cib: shared.clone(),
                    config_changed,
                },
            });
        }
        if config_changed {
            let disk = without_status(self.cib.get());
            out.push(Action::Store {
                key: DISK_SIG.into(),
                data: digest(&disk).into_bytes(),
            });
            out.push(Action::Store {
                key: DISK_CIB.into(),
                data: disk.to_xml_string().into_bytes(),
            });
        }
    }

    fn deliver(&mut self, sender: NodeId, w: Wire, out: &mut Vec<Action>) {
        match w {
            Wire::Request {
                origin,
                call_id,
                op,
            } if self.primary => {
                let result = self.apply_tracked(&op, out);
                if let Ok((_, Some(before))) = &result {
                    let p = patchset::diff_tracked(before, self.cib.get());
                    let from = self.node.clone();
                    self.multicast(
                        Wire::Patch {
                            from,
                            xml: p.to_xml(),
                        },
                        out,
                    );
                }
                self.multicast(
                    Wire::Reply {
                        origin,
                        call_id,
                        result: result.map(|(v, _)| v),
                    },
                    out,
                );
            }
            Wire::Request { .. } => {}
            Wire::Reply {
                origin,
                call_id,
                result,
            } if origin == self.node => {
                if let Some((req, _)) = self.pending.remove(&call_id) {
                    self.answer(req, result, None, out);
                }
            }
            Wire::Reply { .. } => {}
            Wire::Patch { from, xml } if from != self.node => self.patch(&xml, out),
            Wire::Patch { .. } => {}
            Wire::Primary { node, primary } => {
                if primary {
                    self.primary_peer = Some((node, sender));
                } else if self.primary_peer.as_ref().is_some_and(|(n, _)| *n == node) {
                    // Our requests ordered after this are ignored there:
                    // apply them to our copy, as when the primary is lost.
                    self.primary_peer = None;
                    self.retry_pending_locally(out);
                }
            }
            Wire::SyncFrom { node } if node == self.node => self.send_full(out),
            Wire::SyncFrom { .. } => {}
            Wire::SyncRequest { .. } if self.primary => self.send_full(out),
            Wire::SyncRequest { .. } => {}
            Wire::Replace { from, xml } if from != self.node => match parse(&xml) {
                Ok(cib) => {
                    let config_changed =
                        cib.child("configuration") != self.cib.get().child("configuration");
                    if cib != *self.cib.get() {
                        self.cib.replace(cib);
                        self.changed(config_changed, out);
                        out.push(Action::Send {
                            to: Daemon::Attrd,
                            msg: LocalMsg::CibReplaced,
                        });
                    }
                }
                Err(e) => self.error(&format!("sync from {from}: {e}"), out),
            },
            Wire::Replace { .. } => {}
        }
    }

    fn patch(&mut self, xml: &str, out: &mut Vec<Action>) {
        let p = match Patchset::from_xml(xml) {
            Ok(p) => p,
            Err(e) => return self.error(&e.to_string(), out),
        };
        let config_changed =
            p.target.epoch != p.source.epoch || p.target.admin_epoch != p.source.admin_epoch;
        match self.cib.apply_patch(&p) {
            Ok(()) => self.changed(config_changed, out),
            Err(PatchError::VersionMismatch { local, .. }) if local == p.target => {}
            Err(_) => {
                let from = self.node.clone();
                self.multicast(Wire::SyncRequest { from }, out);
            }
        }
    }
}
