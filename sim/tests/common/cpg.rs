//! Comparing what CPG group members saw: the virtual-synchrony checks that
//! the simulated and the real-process CPG tests share.

use serde_json::Value;

/// One membership change or delivery a member got, spelled without the
/// receiver's own pid so that members can be compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub t_us: u64,
    pub text: String,
}

/// A view with all three workloads (each the second endpoint of its node).
pub const ALL_THREE: &str =
    r#"members=[{"node":1,"pid":1001},{"node":2,"pid":1001},{"node":3,"pid":1001}]"#;

/// The CPG part of a node event (a `NodeEvent` as JSON), if it is one.
pub fn seen_of(event: &Value, t_us: u64) -> Option<Seen> {
    let text = match event["kind"].as_str()? {
        "cpg-conf-chg" => format!(
            "confchg members={} left={} joined={}",
            event["members"], event["left"], event["joined"]
        ),
        "cpg-deliver" => format!(
            "deliver {}:{} #{}",
            event["sender"], event["sender_pid"], event["counter"]
        ),
        _ => return None,
    };
    Some(Seen { t_us, text })
}

/// Only the deliveries of `seen`.
pub fn deliveries(seen: &[Seen]) -> Vec<Seen> {
    seen.iter()
        .filter(|s| s.text.starts_with("deliver"))
        .cloned()
        .collect()
}

/// Virtual synchrony between two members that are in the group together
/// from `a[from_a]` and `b[from_b]` on: what each saw from there is the
/// same, event for event, up to where the shorter one ends (a run stops
/// with messages in flight). Returns how many events were compared.
pub fn same_from(a: &[Seen], from_a: usize, b: &[Seen], from_b: usize) -> Result<usize, String> {
    let (a, b) = (&a[from_a..], &b[from_b..]);
    let n = a.len().min(b.len());
    match (0..n).find(|&i| a[i].text != b[i].text) {
        Some(i) => Err(format!(
            "event {i} differs: {:?} vs {:?}",
            a[i].text, b[i].text
        )),
        None => Ok(n),
    }
}

/// The first delivery of `a` (from `from_a` on) that `b` also has (from
/// `from_b` on): a message is unique (sender, pid, counter), so this is
/// where the two members' histories line up.
pub fn align(a: &[Seen], from_a: usize, b: &[Seen], from_b: usize) -> Option<(usize, usize)> {
    a.iter().enumerate().skip(from_a).find_map(|(i, x)| {
        if !x.text.starts_with("deliver") {
            return None;
        }
        let j = b[from_b..].iter().position(|y| y.text == x.text)?;
        Some((i, j + from_b))
    })
}

/// Index of the first event of `seen` at or after `t_us` whose text contains all of `parts`.
pub fn find(seen: &[Seen], t_us: u64, parts: &[&str]) -> Option<usize> {
    seen.iter()
        .position(|s| s.t_us >= t_us && parts.iter().all(|p| s.text.contains(p)))
}
