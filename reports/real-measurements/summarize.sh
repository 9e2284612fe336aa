#!/usr/bin/env bash
# Print min / median / max (and n) of the measured columns in the TSV files
# written by keepalived-partition.sh, keepalived-poweroff.sh and
# corosync-failure-detection.sh.  Reads only those files; no network, no daemons.
#
# Usage (from the repo root): bash reports/real-measurements/summarize.sh
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DATA=${DATA:-$HERE/data}

# stats FILE GROUP_COLS COLUMN...  (GROUP_COLS: comma-separated header names)
stats() {
	local file=$1 groups=$2; shift 2
	[ -f "$file" ] || { echo "(missing $file)"; return; }
	local col
	for col in "$@"; do
		awk -F'\t' -v groups="$groups" -v col="$col" '
			NR == 1 { for (i = 1; i <= NF; i++) idx[$i] = i
			          ng = split(groups, g, ","); next }
			{
				key = ""
				for (j = 1; j <= ng; j++) key = key (j > 1 ? " " : "") $(idx[g[j]])
				if (!(col in idx)) { missing = 1; exit }
				v = $(idx[col])
				if (v == "NA" || v == "") { na[key]++; next }
				n[key]++; vals[key, n[key]] = v + 0
				if (!(key in seen)) { seen[key] = 1; order[++nk] = key }
			}
			END {
				if (missing) { printf "| %-22s | %-38s | (column not in this file) |\n", "-", col; exit }
				for (k = 1; k <= nk; k++) {
					key = order[k]; m = n[key]
					for (a = 1; a <= m; a++) s[a] = vals[key, a]
					for (a = 2; a <= m; a++) { x = s[a]; b = a - 1
						while (b >= 1 && s[b] > x) { s[b + 1] = s[b]; b-- } s[b + 1] = x }
					med = (m % 2) ? s[(m + 1) / 2] : (s[m / 2] + s[m / 2 + 1]) / 2
					printf "| %-22s | %-38s | %3d | %8.4f | %8.4f | %8.4f |%s\n", key, col, m, s[1], med, s[m],
						(na[key] ? " NA=" na[key] : "")
				}
			}' "$file"
	done
}

hdr() { printf '| %-22s | %-38s | %3s | %8s | %8s | %8s |\n|---|---|---|---|---|---|\n' group "measure (seconds)" n min median max; }

echo "## keepalived: partition (bridge drops lb1<->lb2)"
hdr
stats "$DATA/keepalived-partition/partition.tsv" variant \
	part_to_master_log_s part_to_first_lb2_advert_s part_to_notify_master_s \
	lastrx_to_master_log_s lastrx_to_first_lb2_advert_s lastrx_to_partition_s \
	heal_to_lb2_backup_log_s heal_to_lb1_forcing_election_s \
	garps_lb1_mac_7s_after_heal garps_lb2_mac_7s_after_heal
echo
echo "## keepalived: power-off (SIGSTOP+SIGKILL of lb1's keepalived)"
hdr
stats "$DATA/keepalived-poweroff/poweroff.tsv" variant \
	kill_to_master_log_s kill_to_first_lb2_advert_s kill_to_notify_master_s \
	lastrx_to_master_log_s lastrx_to_first_lb2_advert_s lastrx_to_kill_s \
	restart_lb1_to_lb2_backup_s
echo
echo "## corosync: 3 nodes, knet, fault on n3, observed on n1"
hdr
stats "$DATA/corosync/detection.tsv" token,fault \
	fault_to_token_timeout_log_s token_timeout_to_membership_s \
	fault_to_new_membership_s fault_to_quorum_members2_s \
	last_token_rx_to_fault_s last_token_rx_to_token_timeout_s restore_to_3node_ring_s

# Secondary corosync events, recomputed from the kept notice logs: when n1's
# knet declared the link to n3 down, and (partition only) when the isolated n3
# delivered its own singleton membership and quorum loss.
to_epoch() { date -d "$1 $2 $3" +%s.%N; }
first_in_log_after() { # file t fixed-pattern -> seconds after t, or NA
	local line
	while IFS= read -r line; do
		local e; e=$(to_epoch $line) || continue
		if awk -v a="$e" -v b="$2" 'BEGIN{exit !(a >= b - 0.001)}'; then
			awk -v a="$e" -v b="$2" 'BEGIN{printf "%.3f", a - b}'; return
		fi
	done < <(grep -F -- "$3" "$1" | cut -c1-19)
	echo NA
}
echo
echo "## corosync: secondary events per repetition (seconds after the fault)"
echo "| token | fault | rep | n1 knet link to n3 down | n3 own membership (partition) | n3 non-primary/quorum lost line |"
echo "|---|---|---|---|---|---|"
if [ -f "$DATA/corosync/detection.tsv" ]; then
	tail -n +2 "$DATA/corosync/detection.tsv" | while IFS=$'\t' read -r tk fault rep tf _; do
		d="$DATA/corosync/token$tk"
		kd=$(first_in_log_after "$d/corosync-n1.notice.log" "$tf" "link: host: 3 link: 0 is down")
		if [ "$fault" = part ]; then
			m3=$(first_in_log_after "$d/corosync-n3.notice.log" "$tf" "Members left: 1 2")
			q3=$(first_in_log_after "$d/corosync-n3.notice.log" "$tf" "non-primary component")
		else m3="-"; q3="-"; fi
		echo "| $tk | $fault | $rep | $kd | $m3 | $q3 |"
	done
fi

# GARPs lb2 sent when it took over during the partition: within 100 ms of its
# first advert as MASTER, and 4.9-5.2 s later (vrrp_garp_master_delay repeat).
echo
echo "## keepalived partition: GARPs from lb2's MAC seen by the observer (per repetition: at takeover / at takeover+5 s)"
for v in multicast unicast; do
	f="$DATA/keepalived-partition/$v"
	[ -f "$f/macs.txt" ] || continue
	mac2=$(awk '$1 == "lb2" {print $2}' "$f/macs.txt")
	printf '%s: ' "$v"
	awk -F'\t' -v v="$v" '$1 == v {print $18}' "$DATA/keepalived-partition/partition.tsv" | while read -r t; do
		awk -v a="$t" -v m="$mac2" '
			/ARP/ && /who-has 10\.200\.0\.100 .*tell 10\.200\.0\.100/ && $2 == m {
				if ($1 >= a - 0.01 && $1 <= a + 0.1) c++
				if ($1 >= a + 4.9 && $1 <= a + 5.2) d++ }
			END { printf "%d/%d ", c, d }' "$f/tcpdump-client.txt"
	done
	echo
done

# ---- Pacemaker (pacemaker-timings.sh, pacemaker-fencing.sh) --------------------------------
P=$DATA/pacemaker
echo
echo "## pacemaker: cold start of 3 nodes (seconds after the three nodes were launched)"
hdr
stats "$P/coldstart.tsv" "" \
	start_to_3node_ring_s start_to_first_S_PENDING_s start_to_dc_elected_s \
	start_to_all_started_s start_to_first_S_IDLE_s dc_elected_to_all_started_s n_start_ok
echo
echo "## pacemaker: power loss of the DC, stonith-enabled=false (seconds after the fault)"
hdr
stats "$P/dcloss.tsv" "" \
	fault_to_corosync_membership_s fault_to_pcmk_node_lost_s fault_to_new_dc_elected_s \
	fault_to_resources_started_elsewhere_s fault_to_first_S_IDLE_s lost_to_resources_started_s restart_to_stable_s
echo
echo "## pacemaker: power loss of a non-DC node holding a primitive, stonith-enabled=false"
hdr
stats "$P/nondcloss.tsv" "" \
	fault_to_corosync_membership_s fault_to_pcmk_node_lost_s \
	fault_to_resources_started_elsewhere_s fault_to_first_S_IDLE_s lost_to_resources_started_s restart_to_stable_s
echo
echo "## pacemaker: d1 monitor failure (state file removed), monitor interval 10s"
hdr
stats "$P/monfail.tsv" "" fault_to_monitor_not_running_s detect_to_stop_ok_s detect_to_start_ok_s
echo
echo "## pacemaker: d1 with migration-threshold=2, two failures in a row"
hdr
stats "$P/monfail-mt2.tsv" "" fault1_to_not_running_s detect1_to_restart_ok_s fault2_to_not_running_s detect2_to_start_elsewhere_s
echo
echo "## pacemaker: where things ran (per repetition)"
for f in dcloss nondcloss; do
	[ -f "$P/$f.tsv" ] || continue
	printf '%s: ' "$f"
	awk -F'\t' 'NR > 1 { printf "%s(%s)->dc %s; ", $3, $5, $6 }' "$P/$f.tsv"; echo
done
[ -f "$P/monfail.tsv" ] && { printf 'monfail restarted on same node: '; awk -F'\t' 'NR > 1 { n++; if ($3 == $7) s++ } END { printf "%d/%d\n", s, n }' "$P/monfail.tsv"; }
[ -f "$P/monfail-mt2.tsv" ] && { printf 'mt2 first failure restarted in place / second failure moved: '; awk -F'\t' 'NR > 1 { n++; if ($2 == $6) a++; if ($10 != "" && $10 != $2) b++ } END { printf "%d/%d, %d/%d\n", a, n, b, n }' "$P/monfail-mt2.tsv"; }

# Cold start, from the kept logs: when each controller entered S_PENDING and who called the
# first election (dc-deadtime is 20 s).
if [ -f "$P/coldstart.tsv" ] && ls "$P"/logs/pacemaker-node*.notice.log >/dev/null 2>&1; then
	echo
	echo "## pacemaker cold start: election trigger per repetition (seconds after launch)"
	echo "| rep | S_PENDING (first / last node) | fencer connected (first) | Election Trigger popped (node) | its S_PENDING -> pop | S_ELECTION -> S_INTEGRATION (DC) | DC: S_POLICY_ENGINE -> S_TRANSITION_ENGINE |"
	echo "|---|---|---|---|---|---|---|"
	tail -n +2 "$P/coldstart.tsv" | while IFS=$'\t' read -r rep t0 dc _; do
		gawk -v t0="$t0" -v rep="$rep" -v yr="$(date -d @"${t0%.*}" +%Y)" '
			BEGIN { split("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec", m, " "); for (i in m) mon[m[i]] = i }
			/pacemaker-controld/ && (/State transition/ || /Election Trigger just popped/ || /Fencer successfully connected/) {
				split($3, hms, "[:.]")
				e = mktime(yr " " mon[$1] " " $2 " " hms[1] " " hms[2] " " hms[3], 1) + hms[4] / 1000 - t0
				if (e < 0 || e > 27) next   # the next repetition starts about 30 s later
				if (/S_STARTING -> S_PENDING/ && !($4 in pend)) { if (fp == "" || e < fp) fp = e; if (e > lp) lp = e; pend[$4] = e }
				if (/Fencer successfully connected/ && (fc == "" || e < fc)) fc = e
				if (/Election Trigger just popped/ && (te == "" || e < te)) { te = e; tn = $4 }
				if (/S_ELECTION -> S_INTEGRATION/ && (ie == "" || e < ie)) { ie = e; in_ = $4 }
				if (/S_POLICY_ENGINE -> S_TRANSITION_ENGINE/ && pt == "" && ie != "" && $4 == in_) pt = e
				if (/-> S_POLICY_ENGINE/ && pp == "" && ie != "" && $4 == in_) pp = e
			}
			END { printf "| %s | %.3f / %.3f | %.3f | %.3f (%s) | %.3f | %.3f (%s) | %.3f |\n", rep, fp, lp, fc, te, tn, te - pend[tn], ie, in_, pt - pp }' \
			$(ls "$P"/logs/pacemaker-node*.notice.log)
	done
fi

F=$DATA/pacemaker-fencing
if [ -d "$F" ]; then
	for k in dc nondc; do
		echo
		echo "## pacemaker + fencing (fence_hsm): power loss of the $k node"
		hdr
		stats "$F/${k}loss-fenced.tsv" "" \
			fault_to_corosync_membership_s fault_to_pcmk_node_lost_s fault_to_new_dc_elected_s \
			fault_to_fencing_requested_s fault_to_power_controller_off_s fault_to_fence_confirmed_s \
			fault_to_resources_started_elsewhere_s fault_to_first_S_IDLE_s \
			lost_to_fence_requested_s fence_requested_to_confirmed_s fence_confirmed_to_resources_started_s
	done
fi
