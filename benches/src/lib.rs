//! Synthetic Pacemaker CIBs for benchmarking hasim's scheduler, and the
//! small helpers the benchmarks use to compare hasim's Transition Summary
//! with real `crm_simulate`'s.
//!
//! The regression corpus is made of small clusters (a handful of nodes and
//! resources). These generators build the large clusters the corpus lacks, so
//! the benchmarks can show how the scheduler scales:
//!
//! * [`large_cluster`]: many cluster nodes and thousands of primitives in
//!   groups, clones and promotable clones, tied together by location,
//!   colocation and order constraints, with an operation history in which
//!   most resources run, some have never started and some have failed.
//! * [`remote_cluster`]: a few cluster nodes hosting many Pacemaker Remote
//!   connections (`ocf:pacemaker:remote`), with a clone running on every node.
//!
//! Generation is deterministic (arithmetic patterns, no randomness), so the
//! same parameters always give byte-identical XML. The operation history
//! carries the parameter digests real Pacemaker 2.1.5 computes for these
//! definitions, so neither scheduler sees a spurious "definition changed".

pub use large::{large_cluster, LargeCluster};
pub use remote::{remote_cluster, RemoteCluster};
pub use summary::{by_action, multiset_agreement, normalize, transition_summary, Agreement};

/// Writing the pieces of CIB XML the generators share.
pub mod cib_xml {
    use std::fmt::Write;

    /// Feature set written on the CIB and on every history entry. It must not
    /// exceed the feature set of the crm_simulate that reads the file
    /// (Pacemaker 2.1.5 is 3.16.1), or its simulated executor rejects its own
    /// status updates.
    pub const FEATURE_SET: &str = "3.16.1";

    /// Digest Pacemaker 2.1.5 computes for a non-recurring action of a
    /// resource without instance attributes (measured with crm_simulate -S -O).
    pub const DIGEST_NO_PARAMS: &str = "f2317cad3d54cec5d7d7aa7d0bf35cf8";
    /// Digest of a recurring monitor of a resource without instance attributes
    /// (the timeout is not part of it).
    pub const DIGEST_MONITOR: &str = "4811cef7f7f94e3a35a70be7916cb2fd";

    /// The fixed time every history entry claims; nothing in the generated
    /// CIBs expires, so its value does not influence scheduling.
    const LAST_RC_CHANGE: u64 = 1_700_000_000;

    /// The `<cib>` opening, crm_config (with `options` as extra cluster
    /// properties) and the `<nodes>` section for cluster nodes `names`.
    pub fn open_cib(out: &mut String, options: &[(&str, &str)], names: &[String]) {
        let _ = writeln!(
            out,
            "<cib epoch=\"1\" num_updates=\"0\" admin_epoch=\"0\" validate-with=\"pacemaker-3.7\" \
             crm_feature_set=\"{FEATURE_SET}\" have-quorum=\"1\" dc-uuid=\"1\">"
        );
        out.push_str("  <configuration>\n    <crm_config>\n");
        out.push_str("      <cluster_property_set id=\"cib-bootstrap-options\">\n");
        for (name, value) in options {
            let _ = writeln!(
                out,
                "        <nvpair id=\"cib-bootstrap-options-{name}\" name=\"{name}\" value=\"{value}\"/>"
            );
        }
        out.push_str("      </cluster_property_set>\n    </crm_config>\n    <nodes>\n");
        for (i, name) in names.iter().enumerate() {
            let _ = writeln!(out, "      <node id=\"{}\" uname=\"{name}\"/>", i + 1);
        }
        out.push_str("    </nodes>\n");
    }

    /// A primitive with one recurring monitor per `(interval_s, role)`.
    pub fn primitive(
        out: &mut String,
        indent: usize,
        id: &str,
        class: &str,
        provider: Option<&str>,
        agent: &str,
        monitors: &[(u32, Option<&str>)],
    ) {
        let pad = " ".repeat(indent);
        let provider = provider
            .map(|p| format!(" provider=\"{p}\""))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{pad}<primitive class=\"{class}\" id=\"{id}\"{provider} type=\"{agent}\">"
        );
        let _ = writeln!(out, "{pad}  <operations>");
        for (interval, role) in monitors {
            let role_attr = role.map(|r| format!(" role=\"{r}\"")).unwrap_or_default();
            let _ = writeln!(
                out,
                "{pad}    <op id=\"{id}-monitor-{interval}s\" name=\"monitor\" interval=\"{interval}s\" timeout=\"20s\"{role_attr}/>"
            );
        }
        let _ = writeln!(out, "{pad}  </operations>");
        let _ = writeln!(out, "{pad}</primitive>");
    }

    /// Meta attributes as a `<meta_attributes>` block.
    pub fn meta(out: &mut String, indent: usize, owner: &str, pairs: &[(&str, String)]) {
        let pad = " ".repeat(indent);
        let _ = writeln!(out, "{pad}<meta_attributes id=\"{owner}-meta\">");
        for (name, value) in pairs {
            let _ = writeln!(
                out,
                "{pad}  <nvpair id=\"{owner}-meta-{name}\" name=\"{name}\" value=\"{value}\"/>"
            );
        }
        let _ = writeln!(out, "{pad}</meta_attributes>");
    }

    /// One executed operation, as the controller records it in the status.
    pub struct Op<'a> {
        /// `<rsc>_last_0`, `<rsc>_monitor_10000`, `<rsc>_last_failure_0`.
        pub entry_id: String,
        pub task: &'a str,
        pub interval_ms: u32,
        pub rc: i32,
        /// The rc the controller expected (0, or 7 for probes, 8 for promoted monitors).
        pub target_rc: i32,
        pub call_id: u32,
    }

    /// Write an `<lrm_resource>` with its operation history.
    pub fn lrm_resource(
        out: &mut String,
        rsc: &str,
        class: &str,
        provider: Option<&str>,
        agent: &str,
        node: &str,
        ops: &[Op<'_>],
    ) {
        let provider = provider
            .map(|p| format!(" provider=\"{p}\""))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "          <lrm_resource id=\"{rsc}\" type=\"{agent}\" class=\"{class}\"{provider}>"
        );
        for op in ops {
            let key = format!("{rsc}_{}_{}", op.task, op.interval_ms);
            let transition_key = format!(
                "{}:1:{}:8d5c7d3e-0000-4000-8000-000000000001",
                op.call_id, op.target_rc
            );
            let digest = if op.interval_ms > 0 {
                DIGEST_MONITOR
            } else {
                DIGEST_NO_PARAMS
            };
            let _ = writeln!(
                out,
                "            <lrm_rsc_op id=\"{}\" operation_key=\"{key}\" operation=\"{}\" \
                 crm-debug-origin=\"hasim-benches\" crm_feature_set=\"{FEATURE_SET}\" \
                 transition-key=\"{transition_key}\" transition-magic=\"0:{};{transition_key}\" \
                 exit-reason=\"\" on_node=\"{node}\" call-id=\"{}\" rc-code=\"{}\" op-status=\"0\" \
                 interval=\"{}\" last-rc-change=\"{LAST_RC_CHANGE}\" exec-time=\"10\" queue-time=\"0\" \
                 op-digest=\"{digest}\"/>",
                op.entry_id, op.task, op.rc, op.call_id, op.rc, op.interval_ms
            );
        }
        out.push_str("          </lrm_resource>\n");
    }

    /// History of a resource started successfully with a healthy monitor.
    pub fn started(rsc: &str, interval_ms: u32, call_id: u32) -> Vec<Op<'static>> {
        vec![
            Op {
                entry_id: format!("{rsc}_last_0"),
                task: "start",
                interval_ms: 0,
                rc: 0,
                target_rc: 0,
                call_id,
            },
            Op {
                entry_id: format!("{rsc}_monitor_{interval_ms}"),
                task: "monitor",
                interval_ms,
                rc: 0,
                target_rc: 0,
                call_id: call_id + 1,
            },
        ]
    }

    /// History of a started resource whose recurring monitor then found it
    /// not running (rc 7): the cluster must recover it.
    pub fn monitor_failed(rsc: &str, interval_ms: u32, call_id: u32) -> Vec<Op<'static>> {
        let failed = |entry_id: String| Op {
            entry_id,
            task: "monitor",
            interval_ms,
            rc: 7,
            target_rc: 0,
            call_id: call_id + 1,
        };
        vec![
            Op {
                entry_id: format!("{rsc}_last_0"),
                task: "start",
                interval_ms: 0,
                rc: 0,
                target_rc: 0,
                call_id,
            },
            failed(format!("{rsc}_monitor_{interval_ms}")),
            failed(format!("{rsc}_last_failure_0")),
        ]
    }

    /// History of a start that failed with a generic error (rc 1).
    pub fn start_failed(rsc: &str, call_id: u32) -> Vec<Op<'static>> {
        let failed = |entry_id: String| Op {
            entry_id,
            task: "start",
            interval_ms: 0,
            rc: 1,
            target_rc: 0,
            call_id,
        };
        vec![
            failed(format!("{rsc}_last_0")),
            failed(format!("{rsc}_last_failure_0")),
        ]
    }

    /// Transient node attributes (`name`, `value`) of node `id`.
    pub fn transient(out: &mut String, id: &str, attrs: &[(String, String)]) {
        if attrs.is_empty() {
            return;
        }
        let _ = writeln!(out, "      <transient_attributes id=\"{id}\">");
        let _ = writeln!(out, "        <instance_attributes id=\"status-{id}\">");
        for (name, value) in attrs {
            let _ = writeln!(
                out,
                "          <nvpair id=\"status-{id}-{}\" name=\"{name}\" value=\"{value}\"/>",
                name.replace('#', "-")
            );
        }
        out.push_str("        </instance_attributes>\n      </transient_attributes>\n");
    }
}

/// A large cluster of ordinary nodes: groups, clones, promotable clones and
/// standalone primitives under location, colocation and order constraints.
pub mod large {
    use crate::cib_xml::{self, Op};
    use std::fmt::Write;

    /// Shape of a [`large_cluster`]. `Default` is the benchmark's cluster:
    /// 32 nodes and 2,000 primitives.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct LargeCluster {
        pub nodes: usize,
        /// Groups of `group_size` Dummy primitives.
        pub groups: usize,
        pub group_size: usize,
        /// Anonymous clones of one Dummy primitive, `clone_max` instances each.
        pub clones: usize,
        pub clone_max: usize,
        /// Promotable clones of one Stateful primitive (2 instances, 1 promoted).
        pub promotable: usize,
        /// Standalone Dummy primitives.
        pub standalone: usize,
    }

    impl Default for LargeCluster {
        fn default() -> Self {
            // 1 fencing device + 250*4 + 40 + 10 + 949 = 2,000 primitives.
            LargeCluster {
                nodes: 32,
                groups: 250,
                group_size: 4,
                clones: 40,
                clone_max: 8,
                promotable: 10,
                standalone: 949,
            }
        }
    }

    impl LargeCluster {
        /// Configured primitives, counting the fencing device.
        pub fn primitives(&self) -> usize {
            1 + self.groups * self.group_size + self.clones + self.promotable + self.standalone
        }

        fn node(&self, i: usize) -> String {
            format!("node{}", i % self.nodes + 1)
        }

        /// Whether group `g` has run (its members have a start history).
        fn group_running(g: usize) -> bool {
            g % 10 != 9
        }

        /// Whether the first member of group `g` failed its monitor.
        fn group_member_failed(g: usize) -> bool {
            g % 17 == 3
        }

        /// 0 = never started, 1 = running, 2 = start failed.
        fn standalone_state(p: usize) -> u8 {
            if p % 23 == 5 {
                2
            } else if p % 3 == 2 {
                0
            } else {
                1
            }
        }

        /// Nodes (indexes) where clone `c` has instances running.
        fn clone_nodes(&self, c: usize) -> Vec<usize> {
            let running = self.clone_max.min(self.nodes);
            // The last clones have one instance fewer than wanted running.
            let running = if c % 8 == 7 {
                running.saturating_sub(1)
            } else {
                running
            };
            (0..running)
                .map(|j| (c + j * (self.nodes / self.clone_max.max(1)).max(1)) % self.nodes)
                .collect()
        }

        /// Write the CIB XML.
        pub fn to_xml(&self) -> String {
            let mut out = String::with_capacity(self.primitives() * 1200);
            let names: Vec<String> = (0..self.nodes).map(|i| self.node(i)).collect();
            cib_xml::open_cib(
                &mut out,
                &[
                    ("stonith-enabled", "true"),
                    ("enable-startup-probes", "false"),
                    ("no-quorum-policy", "stop"),
                ],
                &names,
            );
            self.resources(&mut out);
            self.constraints(&mut out);
            out.push_str("  </configuration>\n  <status>\n");
            for n in 0..self.nodes {
                self.node_status(&mut out, n);
            }
            out.push_str("  </status>\n</cib>\n");
            out
        }

        fn resources(&self, out: &mut String) {
            out.push_str("    <rsc_defaults>\n");
            cib_xml::meta(
                out,
                6,
                "rsc-options",
                &[("resource-stickiness", "1".to_string())],
            );
            out.push_str("    </rsc_defaults>\n");
            out.push_str("    <resources>\n");
            cib_xml::primitive(
                out,
                6,
                "fencing",
                "stonith",
                None,
                "fence_dummy",
                &[(60, None)],
            );
            for g in 0..self.groups {
                let _ = writeln!(out, "      <group id=\"g{g}\">");
                for m in 0..self.group_size {
                    let id = format!("g{g}-r{m}");
                    cib_xml::primitive(
                        out,
                        8,
                        &id,
                        "ocf",
                        Some("pacemaker"),
                        "Dummy",
                        &[(10, None)],
                    );
                }
                out.push_str("      </group>\n");
            }
            for c in 0..self.clones {
                let id = format!("c{c}-clone");
                let _ = writeln!(out, "      <clone id=\"{id}\">");
                cib_xml::meta(out, 8, &id, &[("clone-max", self.clone_max.to_string())]);
                cib_xml::primitive(
                    out,
                    8,
                    &format!("c{c}"),
                    "ocf",
                    Some("pacemaker"),
                    "Dummy",
                    &[(10, None)],
                );
                out.push_str("      </clone>\n");
            }
            for s in 0..self.promotable {
                let id = format!("ms{s}-clone");
                let _ = writeln!(out, "      <clone id=\"{id}\">");
                cib_xml::meta(
                    out,
                    8,
                    &id,
                    &[
                        ("promotable", "true".to_string()),
                        ("clone-max", "2".to_string()),
                        ("promoted-max", "1".to_string()),
                    ],
                );
                cib_xml::primitive(
                    out,
                    8,
                    &format!("ms{s}"),
                    "ocf",
                    Some("pacemaker"),
                    "Stateful",
                    &[(10, Some("Promoted")), (11, Some("Unpromoted"))],
                );
                out.push_str("      </clone>\n");
            }
            for p in 0..self.standalone {
                cib_xml::primitive(
                    out,
                    6,
                    &format!("p{p}"),
                    "ocf",
                    Some("pacemaker"),
                    "Dummy",
                    &[(10, None)],
                );
            }
            out.push_str("    </resources>\n");
        }

        fn constraints(&self, out: &mut String) {
            out.push_str("    <constraints>\n");
            for g in 0..self.groups {
                let _ = writeln!(
                    out,
                    "      <rsc_location id=\"loc-g{g}\" rsc=\"g{g}\" node=\"{}\" score=\"100\"/>",
                    self.node(g)
                );
                if g % 5 == 0 && self.clones > 0 {
                    let c = g % self.clones;
                    let _ = writeln!(
                        out,
                        "      <rsc_colocation id=\"col-g{g}-c{c}\" rsc=\"g{g}\" with-rsc=\"c{c}-clone\" score=\"INFINITY\"/>"
                    );
                    let _ = writeln!(
                        out,
                        "      <rsc_order id=\"ord-c{c}-g{g}\" first=\"c{c}-clone\" then=\"g{g}\" kind=\"Mandatory\"/>"
                    );
                }
            }
            for p in 0..self.standalone {
                if p % 5 == 0 {
                    let _ = writeln!(
                        out,
                        "      <rsc_location id=\"ban-p{p}\" rsc=\"p{p}\" node=\"{}\" score=\"-INFINITY\"/>",
                        self.node(p * 7)
                    );
                }
                if p % 3 == 0 {
                    let _ = writeln!(
                        out,
                        "      <rsc_location id=\"loc-p{p}\" rsc=\"p{p}\" node=\"{}\" score=\"50\"/>",
                        self.node(p)
                    );
                }
                if p % 4 == 0 && self.groups > 0 {
                    let g = p % self.groups;
                    let _ = writeln!(
                        out,
                        "      <rsc_colocation id=\"col-p{p}-g{g}\" rsc=\"p{p}\" with-rsc=\"g{g}\" score=\"INFINITY\"/>"
                    );
                }
                if p % 97 == 0 && self.promotable > 0 {
                    let s = p % self.promotable;
                    let _ = writeln!(
                        out,
                        "      <rsc_colocation id=\"col-p{p}-ms{s}\" rsc=\"p{p}\" with-rsc=\"ms{s}-clone\" with-rsc-role=\"Promoted\" score=\"INFINITY\"/>"
                    );
                }
                if p % 10 == 0 && p + 1 < self.standalone {
                    let _ = writeln!(
                        out,
                        "      <rsc_order id=\"ord-p{p}\" first=\"p{p}\" then=\"p{}\" kind=\"Mandatory\"/>",
                        p + 1
                    );
                }
            }
            out.push_str("    </constraints>\n");
        }

        fn node_status(&self, out: &mut String, n: usize) {
            let name = self.node(n);
            let id = (n + 1).to_string();
            let _ = writeln!(
                out,
                "    <node_state id=\"{id}\" uname=\"{name}\" in_ccm=\"true\" crmd=\"online\" \
                 crm-debug-origin=\"hasim-benches\" join=\"member\" expected=\"member\">"
            );
            let mut attrs: Vec<(String, String)> = Vec::new();
            let mut lrm = String::new();
            let mut call = 10;
            let mut next_call = |step: u32| {
                call += step;
                call
            };
            if n == 0 {
                let ops = cib_xml::started("fencing", 60_000, next_call(2));
                cib_xml::lrm_resource(
                    &mut lrm,
                    "fencing",
                    "stonith",
                    None,
                    "fence_dummy",
                    &name,
                    &ops,
                );
            }
            for g in (0..self.groups).filter(|g| g % self.nodes == n) {
                if !Self::group_running(g) {
                    continue;
                }
                for m in 0..self.group_size {
                    let rsc = format!("g{g}-r{m}");
                    let ops = if m == 0 && Self::group_member_failed(g) {
                        attrs.push((format!("fail-count-{rsc}#monitor_10000"), "1".into()));
                        attrs.push((
                            format!("last-failure-{rsc}#monitor_10000"),
                            "1700000000".into(),
                        ));
                        cib_xml::monitor_failed(&rsc, 10_000, next_call(2))
                    } else {
                        cib_xml::started(&rsc, 10_000, next_call(2))
                    };
                    cib_xml::lrm_resource(
                        &mut lrm,
                        &rsc,
                        "ocf",
                        Some("pacemaker"),
                        "Dummy",
                        &name,
                        &ops,
                    );
                }
            }
            for c in 0..self.clones {
                if self.clone_nodes(c).contains(&n) {
                    let rsc = format!("c{c}");
                    let ops = cib_xml::started(&rsc, 10_000, next_call(2));
                    cib_xml::lrm_resource(
                        &mut lrm,
                        &rsc,
                        "ocf",
                        Some("pacemaker"),
                        "Dummy",
                        &name,
                        &ops,
                    );
                }
            }
            for s in 0..self.promotable {
                let rsc = format!("ms{s}");
                let promoted = s % self.nodes == n;
                let unpromoted = (s + 1) % self.nodes == n && self.nodes > 1;
                if promoted {
                    let start = next_call(3);
                    let ops = vec![
                        Op {
                            entry_id: format!("{rsc}_last_0"),
                            task: "promote",
                            interval_ms: 0,
                            rc: 0,
                            target_rc: 0,
                            call_id: start + 1,
                        },
                        Op {
                            entry_id: format!("{rsc}_monitor_10000"),
                            task: "monitor",
                            interval_ms: 10_000,
                            rc: 8,
                            target_rc: 8,
                            call_id: start + 2,
                        },
                    ];
                    cib_xml::lrm_resource(
                        &mut lrm,
                        &rsc,
                        "ocf",
                        Some("pacemaker"),
                        "Stateful",
                        &name,
                        &ops,
                    );
                    attrs.push((format!("master-{rsc}"), "10".into()));
                } else if unpromoted {
                    let ops = cib_xml::started(&rsc, 11_000, next_call(2));
                    cib_xml::lrm_resource(
                        &mut lrm,
                        &rsc,
                        "ocf",
                        Some("pacemaker"),
                        "Stateful",
                        &name,
                        &ops,
                    );
                    attrs.push((format!("master-{rsc}"), "5".into()));
                }
            }
            for p in (0..self.standalone).filter(|p| p % self.nodes == n) {
                let rsc = format!("p{p}");
                let ops = match Self::standalone_state(p) {
                    1 => cib_xml::started(&rsc, 10_000, next_call(2)),
                    2 => {
                        attrs.push((format!("fail-count-{rsc}#start_0"), "INFINITY".into()));
                        attrs.push((format!("last-failure-{rsc}#start_0"), "1700000000".into()));
                        cib_xml::start_failed(&rsc, next_call(1))
                    }
                    _ => continue,
                };
                cib_xml::lrm_resource(
                    &mut lrm,
                    &rsc,
                    "ocf",
                    Some("pacemaker"),
                    "Dummy",
                    &name,
                    &ops,
                );
            }
            cib_xml::transient(out, &id, &attrs);
            let _ = writeln!(out, "      <lrm id=\"{id}\">\n        <lrm_resources>");
            out.push_str(&lrm);
            out.push_str("        </lrm_resources>\n      </lrm>\n    </node_state>\n");
        }
    }

    /// The benchmark's large cluster: 32 nodes, 2,000 primitives.
    pub fn large_cluster() -> String {
        LargeCluster::default().to_xml()
    }
}

/// Cluster nodes hosting many Pacemaker Remote nodes.
pub mod remote {
    use crate::cib_xml;
    use std::fmt::Write;

    /// Shape of a [`remote_cluster`]. `Default` is the benchmark's cluster:
    /// 16 cluster nodes and 1,000 remote nodes.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct RemoteCluster {
        pub cluster_nodes: usize,
        pub remote_nodes: usize,
    }

    impl Default for RemoteCluster {
        fn default() -> Self {
            RemoteCluster {
                cluster_nodes: 16,
                remote_nodes: 1000,
            }
        }
    }

    impl RemoteCluster {
        /// Configured primitives: fencing, one connection per remote node and
        /// the cloned Dummy.
        pub fn primitives(&self) -> usize {
            2 + self.remote_nodes
        }

        /// 0 = connection never started, 1 = connected, 2 = connection
        /// monitor failed (the remote node must be fenced and reconnected).
        fn connection_state(r: usize) -> u8 {
            if r % 97 == 13 {
                2
            } else if r % 20 == 19 {
                0
            } else {
                1
            }
        }

        fn cluster_node(&self, i: usize) -> String {
            format!("node{}", i % self.cluster_nodes.max(1) + 1)
        }

        /// Write the CIB XML.
        pub fn to_xml(&self) -> String {
            let mut out = String::with_capacity(self.remote_nodes * 3000);
            let names: Vec<String> = (0..self.cluster_nodes)
                .map(|i| self.cluster_node(i))
                .collect();
            cib_xml::open_cib(
                &mut out,
                &[
                    ("stonith-enabled", "true"),
                    ("enable-startup-probes", "false"),
                ],
                &names,
            );
            out.push_str("    <resources>\n");
            cib_xml::primitive(
                &mut out,
                6,
                "fencing",
                "stonith",
                None,
                "fence_dummy",
                &[(60, None)],
            );
            for r in 0..self.remote_nodes {
                cib_xml::primitive(
                    &mut out,
                    6,
                    &format!("remote{r}"),
                    "ocf",
                    Some("pacemaker"),
                    "remote",
                    &[(30, None)],
                );
            }
            out.push_str("      <clone id=\"dummy-clone\">\n");
            cib_xml::primitive(
                &mut out,
                8,
                "dummy",
                "ocf",
                Some("pacemaker"),
                "Dummy",
                &[(10, None)],
            );
            out.push_str("      </clone>\n    </resources>\n    <constraints>\n");
            for r in 0..self.remote_nodes {
                // Spread connections over the cluster nodes.
                let _ = writeln!(
                    out,
                    "      <rsc_location id=\"loc-remote{r}\" rsc=\"remote{r}\" node=\"{}\" score=\"100\"/>",
                    self.cluster_node(r)
                );
            }
            out.push_str("    </constraints>\n  </configuration>\n  <status>\n");
            for n in 0..self.cluster_nodes {
                self.cluster_node_status(&mut out, n);
            }
            for r in 0..self.remote_nodes {
                self.remote_node_status(&mut out, r);
            }
            out.push_str("  </status>\n</cib>\n");
            out
        }

        fn cluster_node_status(&self, out: &mut String, n: usize) {
            let name = self.cluster_node(n);
            let id = (n + 1).to_string();
            let _ = writeln!(
                out,
                "    <node_state id=\"{id}\" uname=\"{name}\" in_ccm=\"true\" crmd=\"online\" \
                 crm-debug-origin=\"hasim-benches\" join=\"member\" expected=\"member\">"
            );
            let _ = writeln!(out, "      <lrm id=\"{id}\">\n        <lrm_resources>");
            let mut call = 10;
            if n == 0 {
                let ops = cib_xml::started("fencing", 60_000, call);
                cib_xml::lrm_resource(out, "fencing", "stonith", None, "fence_dummy", &name, &ops);
            }
            for r in (0..self.remote_nodes).filter(|r| r % self.cluster_nodes == n) {
                call += 3;
                let rsc = format!("remote{r}");
                let ops = match Self::connection_state(r) {
                    1 => cib_xml::started(&rsc, 30_000, call),
                    2 => cib_xml::monitor_failed(&rsc, 30_000, call),
                    _ => continue,
                };
                cib_xml::lrm_resource(out, &rsc, "ocf", Some("pacemaker"), "remote", &name, &ops);
            }
            let ops = cib_xml::started("dummy", 10_000, call + 3);
            cib_xml::lrm_resource(out, "dummy", "ocf", Some("pacemaker"), "Dummy", &name, &ops);
            out.push_str("        </lrm_resources>\n      </lrm>\n    </node_state>\n");
        }

        /// Remote nodes whose connection ran have a node_state; every tenth
        /// of them has not started the clone yet.
        fn remote_node_status(&self, out: &mut String, r: usize) {
            if Self::connection_state(r) == 0 {
                return;
            }
            let name = format!("remote{r}");
            let _ = writeln!(
                out,
                "    <node_state id=\"{name}\" remote_node=\"true\" uname=\"{name}\" in_ccm=\"true\" \
                 crm-debug-origin=\"hasim-benches\">"
            );
            let _ = writeln!(out, "      <lrm id=\"{name}\">\n        <lrm_resources>");
            if r % 10 != 7 {
                let ops = cib_xml::started("dummy", 10_000, 5);
                cib_xml::lrm_resource(out, "dummy", "ocf", Some("pacemaker"), "Dummy", &name, &ops);
            }
            out.push_str("        </lrm_resources>\n      </lrm>\n    </node_state>\n");
        }
    }

    /// The benchmark's remote cluster: 16 cluster nodes, 1,000 remote nodes.
    pub fn remote_cluster() -> String {
        RemoteCluster::default().to_xml()
    }
}

/// Comparing Transition Summaries the way the corpus README prescribes:
/// whitespace collapsed, as a multiset of lines.
pub mod summary {
    use std::collections::BTreeMap;

    /// Collapse runs of whitespace to one space and trim (Pacemaker pads its
    /// columns with widths that depend on other lines).
    pub fn normalize(line: &str) -> String {
        line.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// The normalised lines of the `Transition Summary:` block of a
    /// crm_simulate output, without the leading `* `.
    pub fn transition_summary(output: &str) -> Vec<String> {
        let mut lines = Vec::new();
        let mut inside = false;
        for line in output.lines() {
            if line.starts_with("Transition Summary:") {
                inside = true;
                continue;
            }
            if inside {
                if line.trim().is_empty() || line.starts_with("Executing Cluster Transition:") {
                    break;
                }
                let trimmed = line.trim_start();
                lines.push(normalize(trimmed.strip_prefix('*').unwrap_or(trimmed)));
            }
        }
        lines
    }

    /// How two multisets of summary lines overlap.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Agreement {
        /// Lines present in both (counted with multiplicity).
        pub common: usize,
        /// Lines only hasim printed.
        pub only_hasim: Vec<String>,
        /// Lines only crm_simulate printed.
        pub only_reference: Vec<String>,
    }

    impl Agreement {
        /// Identical multisets.
        pub fn identical(&self) -> bool {
            self.only_hasim.is_empty() && self.only_reference.is_empty()
        }
    }

    fn counts(lines: &[String]) -> BTreeMap<&str, usize> {
        let mut m = BTreeMap::new();
        for l in lines {
            *m.entry(l.as_str()).or_insert(0) += 1;
        }
        m
    }

    /// Count summary lines by their action word (Start, Move, Recover,
    /// Fence, ...), to say at a glance which kinds of decision disagree.
    pub fn by_action(lines: &[String]) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for l in lines {
            let action = l.split_whitespace().next().unwrap_or("").to_string();
            *m.entry(action).or_insert(0) += 1;
        }
        m
    }

    /// Compare hasim's summary lines with the reference's, ignoring order.
    pub fn multiset_agreement(hasim: &[String], reference: &[String]) -> Agreement {
        let h = counts(hasim);
        let r = counts(reference);
        let mut agreement = Agreement {
            common: 0,
            only_hasim: Vec::new(),
            only_reference: Vec::new(),
        };
        for (line, &n) in &h {
            let m = r.get(line).copied().unwrap_or(0);
            agreement.common += n.min(m);
            for _ in m..n {
                agreement.only_hasim.push((*line).to_string());
            }
        }
        for (line, &m) in &r {
            let n = h.get(line).copied().unwrap_or(0);
            for _ in n..m {
                agreement.only_reference.push((*line).to_string());
            }
        }
        agreement
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hasim_scheduler::hasim_cib::{Cib, Resource, ResourceKind};

    fn count_primitives(resources: &[Resource]) -> usize {
        resources
            .iter()
            .map(|r| match &r.kind {
                ResourceKind::Primitive { .. } => 1,
                ResourceKind::Group { children } => count_primitives(children),
                ResourceKind::Clone { child, .. } => count_primitives(std::slice::from_ref(child)),
                ResourceKind::Bundle { .. } => 0,
            })
            .sum()
    }

    fn agent_count(resources: &[Resource], wanted: &str) -> usize {
        resources
            .iter()
            .filter(|r| matches!(&r.kind, ResourceKind::Primitive { agent: Some(a), .. } if a == wanted))
            .count()
    }

    #[test]
    fn large_cluster_has_the_requested_shape() {
        let xml = large_cluster();
        let cib = Cib::from_xml(&xml).expect("generated CIB parses");
        assert_eq!(cib.attr("validate-with"), Some("pacemaker-3.7"));
        assert_eq!(cib.nodes.len(), 32);
        assert_eq!(count_primitives(&cib.resources), 2000);
        assert_eq!(LargeCluster::default().primitives(), 2000);
        let groups = cib
            .resources
            .iter()
            .filter(|r| matches!(r.kind, ResourceKind::Group { .. }))
            .count();
        let clones = cib
            .resources
            .iter()
            .filter(|r| matches!(r.kind, ResourceKind::Clone { .. }))
            .count();
        assert_eq!((groups, clones), (250, 50));
        assert!(cib.constraints.len() > 1000, "{}", cib.constraints.len());
        // Every node is online with some history; some resources failed.
        assert_eq!(cib.status.len(), 32);
        assert!(cib.status.iter().all(|s| s.attr("crmd") == Some("online")));
        let failures = cib
            .status
            .iter()
            .flat_map(|s| s.lrm.iter().flatten())
            .flat_map(|r| r.ops.iter())
            .filter(|op| op.id().ends_with("_last_failure_0"))
            .count();
        assert!(failures > 10, "{failures} failures");
    }

    #[test]
    fn large_cluster_scales_down() {
        let shape = LargeCluster {
            nodes: 3,
            groups: 2,
            group_size: 2,
            clones: 1,
            clone_max: 2,
            promotable: 1,
            standalone: 5,
        };
        let cib = Cib::from_xml(&shape.to_xml()).expect("parses");
        assert_eq!(cib.nodes.len(), 3);
        assert_eq!(count_primitives(&cib.resources), shape.primitives());
        assert_eq!(shape.primitives(), 1 + 4 + 1 + 1 + 5);
    }

    #[test]
    fn remote_cluster_has_the_requested_shape() {
        let xml = remote_cluster();
        let cib = Cib::from_xml(&xml).expect("generated CIB parses");
        assert_eq!(cib.nodes.len(), 16);
        assert_eq!(agent_count(&cib.resources, "remote"), 1000);
        assert_eq!(count_primitives(&cib.resources), 1002);
        let remote_states = cib
            .status
            .iter()
            .filter(|s| s.attr("remote_node") == Some("true"))
            .count();
        // Connections that never started have no node_state.
        assert!(
            remote_states > 900 && remote_states < 1000,
            "{remote_states}"
        );
        let cluster_states = cib.status.len() - remote_states;
        assert_eq!(cluster_states, 16);
    }

    #[test]
    fn generation_is_deterministic() {
        assert_eq!(large_cluster(), large_cluster());
        assert_eq!(remote_cluster(), remote_cluster());
    }

    #[test]
    fn generated_cibs_schedule() {
        let shape = LargeCluster {
            nodes: 4,
            groups: 8,
            group_size: 3,
            clones: 2,
            clone_max: 2,
            promotable: 2,
            standalone: 30,
        };
        let cib = Cib::from_xml(&shape.to_xml()).expect("parses");
        let graph = hasim_scheduler::schedule(&cib);
        assert!(
            !graph.summary.is_empty(),
            "failures and stopped resources need actions"
        );
        let remote = RemoteCluster {
            cluster_nodes: 2,
            remote_nodes: 40,
        };
        let cib = Cib::from_xml(&remote.to_xml()).expect("parses");
        let graph = hasim_scheduler::schedule(&cib);
        assert!(!graph.summary.is_empty());
    }

    #[test]
    fn summary_block_is_extracted_and_normalised() {
        let out = "Current cluster status:\n  * Node List:\n\nTransition Summary:\n  * Start      a     ( node1 )\n  * Stop       b     (  node2 )  due to node availability\n\nExecuting Cluster Transition:\n  * Resource action: a start on node1\n";
        assert_eq!(
            transition_summary(out),
            vec![
                "Start a ( node1 )".to_string(),
                "Stop b ( node2 ) due to node availability".to_string()
            ]
        );
        assert!(transition_summary("no summary here").is_empty());
    }

    #[test]
    fn multiset_agreement_counts_multiplicity() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let a = multiset_agreement(&s(&["x", "x", "y"]), &s(&["x", "z"]));
        assert_eq!(a.common, 1);
        assert_eq!(a.only_hasim, s(&["x", "y"]));
        assert_eq!(a.only_reference, s(&["z"]));
        assert!(!a.identical());
        assert!(multiset_agreement(&s(&["b", "a"]), &s(&["a", "b"])).identical());
        let actions = by_action(&s(&[
            "Start a ( n1 )",
            "Start b ( n2 )",
            "Fence (reboot) n3 'x'",
        ]));
        assert_eq!(actions.get("Start"), Some(&2));
        assert_eq!(actions.get("Fence"), Some(&1));
    }
}
