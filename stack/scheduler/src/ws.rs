//! The scheduler's working set: the unpacked cluster (nodes, resource
//! instances, constraints) plus the actions being scheduled.
//!
//! Everything is index-based (arena vectors) so that the many cross links
//! Pacemaker's algorithms follow (parent/child, colocation both ways, action
//! orderings both ways) stay cheap and deterministic.

use std::collections::{BTreeMap, BTreeSet};

use hasim_cib::{OpDef, Score};

pub type NodeId = usize;
pub type RscId = usize;
pub type ActionId = usize;
pub type ColocId = usize;

/// Resource roles, ordered as Pacemaker orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Unknown,
    Stopped,
    Started,
    Unpromoted,
    Promoted,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Unknown => "Unknown",
            Role::Stopped => "Stopped",
            Role::Started => "Started",
            Role::Unpromoted => "Unpromoted",
            Role::Promoted => "Promoted",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Some(match text.to_ascii_lowercase().as_str() {
            "stopped" => Role::Stopped,
            "started" => Role::Started,
            "unpromoted" | "slave" => Role::Unpromoted,
            "promoted" | "master" => Role::Promoted,
            "unknown" => Role::Unknown,
            _ => return None,
        })
    }
}

/// A cluster node as the scheduler sees it.
#[derive(Debug, Clone, Default)]
pub struct Node {
    pub name: String,
    pub id: String,
    pub node_type: String,
    pub online: bool,
    pub unclean: bool,
    pub unseen: bool,
    pub standby: bool,
    pub standby_onfail: bool,
    pub pending: bool,
    pub maintenance: bool,
    pub shutdown: bool,
    pub expected_up: bool,
    pub is_dc: bool,
    pub has_state: bool,
    pub unpacked: bool,
    pub attrs: BTreeMap<String, String>,
    /// Resources assigned so far (tie-break in node sorting).
    pub num_resources: usize,
    /// Base weight (-INFINITY when the node cannot host resources).
    pub weight: Score,
    /// Remaining utilization capacity (placement-strategy).
    pub capacity: BTreeMap<String, i32>,
    /// Pacemaker Remote details (None for cluster nodes).
    pub remote: Option<crate::remote_node::RemoteNode>,
}

impl Node {
    /// Pacemaker's "can run resources" test.
    pub fn available(&self) -> bool {
        self.online && !self.shutdown && !self.unclean && !self.standby && !self.maintenance
    }
}

/// Kinds of resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Variant {
    Primitive,
    Group,
    Clone,
}

/// On-fail handling, ordered by severity as Pacemaker compares them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OnFail {
    Ignore,
    Demote,
    Recover,
    RestartContainer,
    ResetRemote,
    Migrate,
    Block,
    Stop,
    Standby,
    Fence,
}

impl OnFail {
    /// Severity rank used when keeping the "worst" failure of a history.
    pub fn rank(self) -> i32 {
        match self {
            OnFail::Ignore => 0,
            OnFail::Demote => 1,
            OnFail::Recover => 2,
            OnFail::ResetRemote => 3,
            OnFail::RestartContainer => 4,
            OnFail::Migrate => 5,
            OnFail::Block => 6,
            OnFail::Stop => 7,
            OnFail::Standby => 8,
            OnFail::Fence => 9,
        }
    }
}

/// A location constraint's resource-discovery mode, in Pacemaker's order
/// (a node keeps the strongest: exclusive > never > always).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Discover {
    #[default]
    Always,
    Never,
    Exclusive,
}

/// A resource (or resource instance) in the working set.
#[derive(Debug, Clone)]
pub struct Rsc {
    pub id: String,
    /// The configured id without any clone instance suffix.
    pub base_id: String,
    pub variant: Variant,
    pub parent: Option<RscId>,
    pub children: Vec<RscId>,
    pub class: String,
    pub provider: Option<String>,
    pub agent: String,
    pub meta: BTreeMap<String, String>,
    /// Shared by a clone's instances (copies of one definition).
    pub ops: std::sync::Arc<[OpDef]>,
    pub priority: i32,
    pub stickiness: i32,
    pub migration_threshold: i32,
    pub failure_timeout: i64,
    pub managed: bool,
    pub maintenance: bool,
    pub orphan: bool,
    pub failed: bool,
    pub stop_flag: bool,
    pub block: bool,
    pub unique: bool,
    pub promotable: bool,
    pub critical: bool,
    pub needs_fencing: bool,
    /// requires=unfencing (explicit, or the default once unfencing is enabled).
    pub needs_unfencing: bool,
    pub needs_quorum: bool,
    /// Nodes where the fail count is being cleared (its last failure was
    /// recorded with other parameters): no migration-threshold ban there.
    pub failcount_cleared: BTreeSet<NodeId>,
    /// The node a shutdown lock keeps the resource on.
    pub lock_node: Option<NodeId>,
    /// A live migration whose migrate_to completed but whose migrate_from
    /// has not: (source, target).
    pub partial_migration: Option<(NodeId, NodeId)>,
    /// Sources of migrations that completed without a stop there.
    pub dangling_migrations: Vec<NodeId>,
    pub fence_device: bool,
    pub start_pending: bool,
    pub failure_ignored: bool,
    pub role: Role,
    pub next_role: Role,
    pub target_role: Option<Role>,
    pub running_on: Vec<NodeId>,
    pub known_on: BTreeSet<NodeId>,
    /// Allowed node weights (absent key = not allowed).
    pub allowed: BTreeMap<NodeId, Score>,
    /// resource-discovery mode per allowed node (from location constraints).
    pub discover: BTreeMap<NodeId, Discover>,
    /// Some location gave this resource resource-discovery=exclusive.
    pub exclusive_discover: bool,
    pub assigned: Option<NodeId>,
    pub provisional: bool,
    pub allocating: bool,
    pub merging: bool,
    /// Colocations where this resource is the dependent.
    pub this_with: Vec<ColocId>,
    /// Colocations where this resource is the primary.
    pub with_this: Vec<ColocId>,
    pub actions: Vec<ActionId>,
    pub pending_task: Option<(String, NodeId)>,
    pub restarting: bool,
    // Clone settings.
    pub clone_max: usize,
    pub clone_node_max: usize,
    pub promoted_max: usize,
    pub promoted_node_max: usize,
    pub interleave: bool,
    pub ordered: bool,
    // Group settings.
    pub group_ordered: bool,
    pub group_colocated: bool,
    /// Promotion sort index used by promotable clones.
    pub sort_index: i32,
    /// Name of this instance in the operation history, when different.
    pub clone_name: Option<String>,
    pub multiple_active_block: bool,
    /// multiple-active=stop_unexpected.
    pub multiple_active_stop_unexpected: bool,
    /// Multiply active with stop_unexpected: stopped only where it is not
    /// expected (Pacemaker's pe_rsc_stop_unexpected).
    pub stop_unexpected: bool,
    pub configured: bool,
    /// Instance attribute sets (agent parameters), for digests.
    /// Shared by a clone's instances, like `ops`.
    pub param_sets: std::sync::Arc<[hasim_cib::AttrSet]>,
    /// The agent can reload the changed parameters instead of restarting.
    pub reload: bool,
    /// allow-migrate: may move by live migration instead of stop/start.
    pub allow_migrate: bool,
    /// Utilization this resource consumes on its node.
    pub utilization: BTreeMap<String, i32>,
}

impl Rsc {
    pub fn new(id: &str, variant: Variant) -> Rsc {
        Rsc {
            id: id.to_string(),
            base_id: id.to_string(),
            variant,
            parent: None,
            children: Vec::new(),
            class: String::new(),
            provider: None,
            agent: String::new(),
            meta: BTreeMap::new(),
            ops: Default::default(),
            priority: 0,
            stickiness: 0,
            migration_threshold: hasim_cib::INFINITY,
            failure_timeout: 0,
            managed: true,
            maintenance: false,
            orphan: false,
            failed: false,
            stop_flag: false,
            block: false,
            unique: false,
            promotable: false,
            critical: true,
            needs_fencing: false,
            needs_unfencing: false,
            lock_node: None,
            failcount_cleared: BTreeSet::new(),
            partial_migration: None,
            dangling_migrations: Vec::new(),
            needs_quorum: false,
            fence_device: false,
            start_pending: false,
            failure_ignored: false,
            role: Role::Stopped,
            next_role: Role::Unknown,
            target_role: None,
            running_on: Vec::new(),
            known_on: BTreeSet::new(),
            allowed: BTreeMap::new(),
            discover: BTreeMap::new(),
            exclusive_discover: false,
            assigned: None,
            provisional: true,
            allocating: false,
            merging: false,
            this_with: Vec::new(),
            with_this: Vec::new(),
            actions: Vec::new(),
            pending_task: None,
            restarting: false,
            clone_max: 0,
            clone_node_max: 1,
            promoted_max: 1,
            promoted_node_max: 1,
            interleave: false,
            ordered: false,
            group_ordered: true,
            group_colocated: true,
            sort_index: 0,
            clone_name: None,
            multiple_active_block: false,
            multiple_active_stop_unexpected: false,
            stop_unexpected: false,
            configured: true,
            param_sets: Default::default(),
            reload: false,
            allow_migrate: false,
            utilization: BTreeMap::new(),
        }
    }
}

/// A colocation constraint between two resources.
#[derive(Debug, Clone)]
pub struct Coloc {
    pub id: String,
    pub dependent: RscId,
    pub primary: RscId,
    pub score: i32,
    pub dependent_role: Role,
    pub primary_role: Role,
    pub node_attribute: Option<String>,
    pub influence: bool,
}

/// Ordering flag bits (Pacemaker's `pe_order_*`).
pub mod of {
    pub const NONE: u32 = 0;
    pub const OPTIONAL: u32 = 1 << 0;
    pub const IMPLIES_THEN: u32 = 1 << 1;
    pub const IMPLIES_FIRST: u32 = 1 << 2;
    pub const RUNNABLE_LEFT: u32 = 1 << 3;
    pub const RESTART: u32 = 1 << 4;
    pub const PROMOTED_IMPLIES_FIRST: u32 = 1 << 5;
    pub const ONE_OR_MORE: u32 = 1 << 6;
    pub const ASYMMETRICAL: u32 = 1 << 7;
    pub const IMPLIES_FIRST_PRINTED: u32 = 1 << 8;
    pub const IMPLIES_THEN_PRINTED: u32 = 1 << 9;
    pub const SAME_NODE: u32 = 1 << 10;
    pub const THEN_CANCELS_FIRST: u32 = 1 << 11;
    pub const ANTI_COLOCATION: u32 = 1 << 12;
    pub const SERIALIZE_ONLY: u32 = 1 << 13;
    pub const PRESERVE: u32 = 1 << 14;
    pub const PROBE: u32 = 1 << 15;
    pub const PSEUDO_LEFT: u32 = 1 << 16;
    pub const IMPLIES_FIRST_MIGRATABLE: u32 = 1 << 17;
    pub const IMPLIES_THEN_ON_NODE: u32 = 1 << 18;
}

/// Action flag bits (Pacemaker's `pe_action_*`).
pub mod af {
    pub const OPTIONAL: u32 = 1 << 0;
    pub const RUNNABLE: u32 = 1 << 1;
    pub const PSEUDO: u32 = 1 << 2;
    pub const PRINT_ALWAYS: u32 = 1 << 3;
    pub const MIGRATE_RUNNABLE: u32 = 1 << 4;
    pub const IMPLIED_BY_STONITH: u32 = 1 << 5;
    pub const REQUIRES_ANY: u32 = 1 << 6;
    pub const DC: u32 = 1 << 7;
    /// The stop that finishes a migration which completed without one.
    pub const DANGLE: u32 = 1 << 8;
}

/// A scheduled (or considered) action.
#[derive(Debug, Clone)]
pub struct Action {
    pub rsc: Option<RscId>,
    pub task: String,
    pub interval_ms: u64,
    pub node: Option<NodeId>,
    pub flags: u32,
    pub reason: Option<String>,
    pub before: Vec<(ActionId, u32)>,
    pub after: Vec<(ActionId, u32)>,
    /// For fencing: "reboot"/"off"/"on".
    pub fence_type: Option<String>,
    pub needs: Needs,
    pub runnable_before: u32,
    pub required_runnable_before: u32,
    /// Key of a non-resource pseudo action (e.g. clone-min helpers).
    pub name: Option<String>,
}

impl Action {
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }
}

/// What an action needs before it may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    Nothing,
    Quorum,
    Fencing,
}

/// An ordering between resource actions, resolved after actions exist.
#[derive(Debug, Clone)]
pub struct Ordering {
    pub first_rsc: Option<RscId>,
    pub first_task: Option<String>,
    pub first_action: Option<ActionId>,
    pub then_rsc: Option<RscId>,
    pub then_task: Option<String>,
    pub then_action: Option<ActionId>,
    pub flags: u32,
}

/// Cluster-wide behaviour options (crm_config).
#[derive(Debug, Clone)]
pub struct Options {
    pub stonith_enabled: bool,
    pub stonith_action: String,
    pub symmetric: bool,
    pub have_quorum: bool,
    pub no_quorum_policy: NoQuorum,
    pub stop_orphan_resources: bool,
    pub stop_orphan_actions: bool,
    pub maintenance_mode: bool,
    pub stop_all_resources: bool,
    pub start_failure_is_fatal: bool,
    pub startup_fencing: bool,
    pub concurrent_fencing: bool,
    pub placement_strategy: String,
    pub have_stonith_resource: bool,
    pub now: i64,
    pub default_stickiness: i32,
    /// CIB feature set older than 3.0.13: per-resource fail counts.
    pub legacy_failcounts: bool,
    /// enable-startup-probes
    pub startup_probes: bool,
    /// node-health-strategy and its red/yellow/green scores and base.
    pub health_strategy: String,
    pub health_scores: (i32, i32, i32, i32),
    /// Some resource (or the resource defaults) provides or requires
    /// unfencing (Pacemaker's pe_flag_enable_unfencing).
    pub enable_unfencing: bool,
    /// shutdown-lock, and shutdown-lock-limit in seconds (0: none).
    pub shutdown_lock: bool,
    pub shutdown_lock_limit: i64,
    /// priority-fencing-delay in whole seconds (0: disabled).
    pub priority_fencing_delay: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoQuorum {
    Freeze,
    Stop,
    Ignore,
    Suicide,
    Demote,
}

/// The whole working set.
#[derive(Debug, Clone)]
pub struct WorkingSet {
    pub options: Options,
    pub nodes: Vec<Node>,
    pub rscs: Vec<Rsc>,
    /// Top-level resources in allocation/output order.
    pub top: Vec<RscId>,
    pub colocs: Vec<Coloc>,
    pub orderings: Vec<Ordering>,
    pub actions: Vec<Action>,
    /// Fence actions in creation order.
    pub fence_actions: Vec<ActionId>,
    pub warnings: Vec<String>,
    /// Promoted-role location constraints: (resource, node scores).
    pub promoted_locations: Vec<(RscId, Vec<(NodeId, hasim_cib::Score)>)>,
    /// Promoted-role ticket constraints: (resource, ticket missing).
    pub ticket_promotion_bans: Vec<(RscId, bool)>,
    /// Operation histories (resource, node, ops sorted by call id).
    pub histories: Vec<(String, NodeId, Vec<hasim_cib::LrmOp>)>,
    /// The agent each history entry was recorded for (class, provider,
    /// type), by the same index as `histories`.
    pub history_agents: Vec<[Option<String>; 3]>,
    /// Unexpired `_last_failure_0` entries of starts and probes, checked
    /// for parameter changes that clear the fail count (resource, node,
    /// entry).
    pub last_failure_checks: Vec<(RscId, NodeId, hasim_cib::LrmOp)>,
    /// Pacemaker Remote connections and containers.
    pub links: crate::remote_node::Links,
    /// Cluster nodes marked for fencing because they left the membership
    /// ("peer is no longer part of the cluster"): only their fencing
    /// considers priority-fencing-delay (unpack.c passes priority_delay).
    pub lost_members: std::collections::BTreeSet<NodeId>,
    /// Per clone action, its instances' matching actions (see
    /// `actions::clone_action_flags`); rebuilt when actions are added.
    pub child_actions: BTreeMap<ActionId, ChildActions>,
    /// Per node, its place in name order (see `WorkingSet::cmp_node_names`);
    /// set once the nodes are unpacked.
    pub name_order: Vec<u32>,
}

/// The actions a clone action stands for: per instance (in instance
/// order), whether the instance is collective and its actions with the
/// child task, in the instance's action order. Valid while the working set
/// has `actions_len` actions (actions are only ever appended, and their
/// task, interval and node never change) and the clone has these
/// `children` in this order.
#[derive(Debug, Clone, Default)]
pub struct ChildActions {
    pub actions_len: usize,
    pub children: Vec<RscId>,
    pub instances: Vec<(bool, Vec<ActionId>)>,
    /// Every instance is a primitive, whose flags are its actions' own.
    pub primitives: bool,
    /// For a large clone of primitives: the actions a query finds, by query.
    pub lookup: Option<Box<PrimitiveActions>>,
}

/// The instances' actions a clone action's flags are summarised from, for
/// a clone of primitives: reading only flags, in any order, a query needs
/// just the set of actions it finds, looked up rather than searched.
#[derive(Debug, Clone, Default)]
pub struct PrimitiveActions {
    /// A query on no node: each instance's first matching action.
    pub first: Vec<ActionId>,
    /// A query on a node, when every matching action has a node: per node,
    /// each instance's first action there (None when some action has no
    /// node, which every query would find).
    pub on_node: Option<BTreeMap<NodeId, Vec<ActionId>>>,
}

impl WorkingSet {
    pub fn legacy_failcounts(&self) -> bool {
        self.options.legacy_failcounts
    }

    pub fn find_node(&self, name: &str) -> Option<NodeId> {
        self.nodes
            .iter()
            .position(|n| n.name.eq_ignore_ascii_case(name))
    }

    /// An index answering `find_node` for the nodes as they are now, for
    /// loops that look up a node per resource (a scan of 1,000 remote
    /// nodes each time otherwise).
    pub fn node_index(&self) -> NodeIndex {
        let mut index = NodeIndex::default();
        for (n, node) in self.nodes.iter().enumerate() {
            index.added(&node.name, n);
        }
        index
    }

    pub fn uber_parent(&self, mut r: RscId) -> RscId {
        while let Some(p) = self.rscs[r].parent {
            r = p;
        }
        r
    }

    pub fn is_clone(&self, r: RscId) -> bool {
        self.rscs[r].variant == Variant::Clone
    }

    /// The node a resource is (singly) active on.
    pub fn current_node(&self, r: RscId) -> Option<NodeId> {
        self.rscs[r].running_on.first().copied()
    }

    /// All primitive descendants (or self) of a resource.
    pub fn primitives_of(&self, r: RscId) -> Vec<RscId> {
        let mut out = Vec::new();
        self.collect_primitives(r, &mut out);
        out
    }

    fn collect_primitives(&self, r: RscId, out: &mut Vec<RscId>) {
        if self.rscs[r].variant == Variant::Primitive {
            out.push(r);
        } else {
            for &c in &self.rscs[r].children {
                self.collect_primitives(c, out);
            }
        }
    }

    /// Two nodes in name order. Node sorting breaks its last ties by name,
    /// for every pair of nodes compared: the numbers recorded at unpacking
    /// compare as the names do, without reading them (the names
    /// themselves for nodes added since).
    pub fn cmp_node_names(&self, a: NodeId, b: NodeId) -> std::cmp::Ordering {
        match (self.name_order.get(a), self.name_order.get(b)) {
            (Some(x), Some(y)) if self.name_order.len() == self.nodes.len() => x.cmp(y),
            _ => self.nodes[a].name.cmp(&self.nodes[b].name),
        }
    }

    pub fn node_name(&self, n: NodeId) -> &str {
        &self.nodes[n].name
    }
}

/// Node numbers by name, compared as `find_node` compares them (ASCII
/// case-insensitively, the first node of a name winning).
#[derive(Debug, Default)]
pub struct NodeIndex(BTreeMap<String, NodeId>);

impl NodeIndex {
    pub fn get(&self, name: &str) -> Option<NodeId> {
        self.0.get(&name.to_ascii_lowercase()).copied()
    }

    /// Record node `n`, just appended to the working set's nodes, unless an
    /// earlier node has the same name.
    pub fn added(&mut self, name: &str, n: NodeId) {
        self.0.entry(name.to_ascii_lowercase()).or_insert(n);
    }
}
