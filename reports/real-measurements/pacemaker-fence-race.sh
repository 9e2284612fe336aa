#!/usr/bin/env bash
# The two-node fence race on real Pacemaker 2.1.5 / Corosync 3.1.7 (hasim issue 9), set up as
# scenarios/pacemaker-two-node-fence-race{,-delay}.toml set it up in hasim:
#   corosync: 2 nodes, knet, default token (1000 ms), quorum two_node: 1 (implies wait_for_all)
#   CIB: stonith-enabled=true stonith-action=off no-quorum-policy=stop
#        fence-n1 stonith:fence_hsm pcmk_host_list=node1, banned from node1 (-INFINITY)
#        fence-n2 stonith:fence_hsm pcmk_host_list=node2, banned from node2
#        vip ocf:heartbeat:IPaddr2 (monitor 10s)
#   variant "delay": pcmk_delay_max=15s on both devices (as two-node-fenced-delay.crm)
# The nodes are namespaces as in pacemaker-lib.sh (NODES="1 2"); fence_hsm and the power
# controller loop are those of pacemaker-fencing.sh: "off" = bridge port down + kill -9 of
# every process of the node, logged with $EPOCHREALTIME in power.log. The fence devices are
# not reached over the cluster network, so, as hasim's BMCs, they stay reachable in a split.
#
# One repetition: both nodes cold-started (their CIB kept on disk), cluster stable (DC, 2
# online, 3 resources started), a random 0-999 ms sleep (hasim's `jitter = "1s"`), then the
# partition: both bridge ports are made `isolated` (links stay up, no frame passes between
# them). After WINDOW seconds the outcome is read from power.log: who was powered off.
# Then both nodes are killed and the next repetition starts them again.
#
# Usage (repo root, as root): bash reports/real-measurements/pacemaker-fence-race.sh
# Environment: REPS (default 10), VARIANTS (default "nodelay delay"),
#              OUT (default .../data/pacemaker-fence-race)
set -uo pipefail
if [ -z "${HSM_BOUNDED:-}" ]; then
	HSM_BOUNDED=1 exec timeout --kill-after=30 "${MAX_SECONDS:-2400}" bash "${BASH_SOURCE[0]}" "$@"
fi

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORK=/tmp/hsm-pacemaker
. "$HERE/pacemaker-lib.sh"
NODES="1 2"
REPS=${REPS:-10}
VARIANTS=${VARIANTS:-"nodelay delay"}
OUT=${OUT:-$HERE/data/pacemaker-fence-race}
WANT_ACTIVE=3
WANT_ONLINE=2
FD=$WORK/fence
FENCE_LINK=/usr/sbin/fence_hsm
CTL_PID=""

on_exit() { local rc=$?; [ -n "$CTL_PID" ] && kill "$CTL_PID" 2>/dev/null; cleanup; exit $rc; }
trap on_exit EXIT
trap 'log "interrupted"; exit 130' INT TERM

two_node_conf() { # node : add two_node: 1 to the quorum section write_node_files wrote
	sed -i 's/^\(    provider: corosync_votequorum\)$/\1\n    two_node: 1/' "$WORK/node$1/etc-corosync/corosync.conf"
	grep -q "two_node: 1" "$WORK/node$1/etc-corosync/corosync.conf"
}

fence_dev() { # node-number -> a stonith primitive that fences node N, and its ban from N
	local n=$1
	pcmk_on 1 cibadmin -C -o resources -X "<primitive id=\"fence-n$n\" class=\"stonith\" type=\"fence_hsm\"><instance_attributes id=\"fence-n$n-ia\"><nvpair id=\"fence-n$n-hl\" name=\"pcmk_host_list\" value=\"node$n\"/></instance_attributes><operations><op id=\"fence-n$n-mon\" name=\"monitor\" interval=\"60s\"/></operations></primitive>" || return 1
	pcmk_on 1 cibadmin -C -o constraints -X "<rsc_location id=\"fence-n$n-away\" rsc=\"fence-n$n\" node=\"node$n\" score=\"-INFINITY\"/>"
}

configure_cib() {
	pcmk_on 1 crm_attribute -t crm_config -n stonith-enabled -v true || return 1
	pcmk_on 1 crm_attribute -t crm_config -n stonith-action -v off || return 1
	pcmk_on 1 crm_attribute -t crm_config -n no-quorum-policy -v stop || return 1
	fence_dev 1 || return 1
	fence_dev 2 || return 1
	pcmk_on 1 cibadmin -C -o resources -X '<primitive id="vip" class="ocf" provider="heartbeat" type="IPaddr2"><instance_attributes id="vip-ia"><nvpair id="vip-ip" name="ip" value="'"$VIP"'"/><nvpair id="vip-cidr" name="cidr_netmask" value="24"/><nvpair id="vip-nic" name="nic" value="eth0"/></instance_attributes><operations><op id="vip-mon" name="monitor" interval="10s" timeout="20s"/></operations></primitive>'
}

set_delay() { # value ("" removes pcmk_delay_max from both devices)
	local n
	for n in 1 2; do
		if [ -n "$1" ]; then
			pcmk_on 1 crm_resource -r "fence-n$n" --set-parameter pcmk_delay_max --parameter-value "$1" >/dev/null || return 1
		else
			pcmk_on 1 crm_resource -r "fence-n$n" --delete-parameter pcmk_delay_max >/dev/null 2>&1
		fi
	done
	return 0
}

save_cib() { # variant : the configuration section the variant runs with (the cluster is up here)
	pcmk_on 1 cibadmin -Q -o configuration >"$OUT/cib-configuration-$1.xml"
}

bootstrap() {
	local n st
	setup_net || { log "namespace setup failed"; return 1; }
	rm -rf "$WORK"; mkdir -p "$WORK" "$FD"
	for n in $NODES; do write_node_files "$n"; two_node_conf "$n" || return 1; echo on >"$FD/node$n.power"; done
	install -m 0755 "$HERE/data/pacemaker/fence_hsm" "$WORK/fence_hsm"
	[ -e "$FENCE_LINK" ] && [ ! -L "$FENCE_LINK" ] && { log "$FENCE_LINK exists and is not our link"; return 1; }
	ln -sfn "$WORK/fence_hsm" "$FENCE_LINK"
	power_controller &
	CTL_PID=$!
	for n in $NODES; do start_node "$n"; done
	wait_ev 90 0 "S_TRANSITION_ENGINE -> S_IDLE" $(plog $NODES) >/dev/null || { log "bootstrap: no DC"; return 1; }
	configure_cib || { log "bootstrap: cibadmin failed"; return 1; }
	st=$(wait_stable 1 120) || { log "bootstrap: not stable: $(cluster_state 1)"; return 1; }
	log "bootstrap: $st"
}

restart_both() { # kill whatever is left, heal the split, cold-start both nodes
	local n
	for n in $NODES; do kill_node "$n"; done
	for n in $NODES; do bridge -n "$NS_BR" link set dev "p-n$n" isolated off; done
	for n in $NODES; do restore_node "$n"; echo on >"$FD/node$n.power"; done
}

partition() {
	local n
	for n in $NODES; do bridge -n "$NS_BR" link set dev "p-n$n" isolated on; done
}

# off time of node N in power.log after T, or empty
off_at() { awk -v t="$1" -v nd="node$2" '$1 >= t && $3 == nd && $4 == "off" { printf "%.6f\n", $1; exit }' "$FD/power.log"; }

# the delay node N's fencer drew before running the agent against node M, after T ("5s")
delay_drawn() { # T N M
	gawk -v t="$1" -v yr="$(date +%Y)" -v re="Delaying 'off' action targeting node$3 .* for [0-9]+s" '
		BEGIN { split("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec", m, " "); for (i in m) mon[m[i]] = i }
		$0 ~ re {
			split($3, hms, "[:.]")
			e = mktime(yr " " mon[$1] " " $2 " " hms[1] " " hms[2] " " hms[3], 1) + hms[4] / 1000
			if (e >= t - 0.0005) { match($0, /for [0-9]+s/); print substr($0, RSTART + 4, RLENGTH - 4); exit }
		}' $(plog "$2") 2>/dev/null
}

run_race() { # variant window_s
	local v=$1 win=$2 rep st dc tf o1 o2 out r1 r2 a1 a2 d1 d2
	local f="$OUT/$v.tsv"
	printf 'rep\tt_partition\tdc_before\toutcome\tnode1_off_s\tnode2_off_s\tnode1_requests_fence_s\tnode2_requests_fence_s\tagent_on_node1_s\tagent_on_node2_s\tdelay_node1\tdelay_node2\n' >"$f"
	for rep in $(seq 1 "$REPS"); do
		st=$(wait_stable 1 150) || st=$(wait_stable 2 30) || { log "$v rep $rep: not stable: $(cluster_state 1)"; return 1; }
		dc=$(field "$st" dc)
		sleep "$(rand_ms $((RANDOM % 1000)))"
		tf=$EPOCHREALTIME
		echo "$tf partition" >>"$FD/power.log"
		partition
		log "$v rep $rep: $st -> partition"
		sleep "$win"
		o1=$(off_at "$tf" 1); o2=$(off_at "$tf" 2)
		if [ -n "$o1" ] && [ -n "$o2" ]; then out=both-off
		elif [ -n "$o1" ]; then out=node2-survives
		elif [ -n "$o2" ]; then out=node1-survives
		else out=none-off; fi
		# node N's controller asking to fence the other; node N's fencer running the agent
		r1=$(ev "$tf" "pacemaker-controld.*Requesting fencing .* node2" $(plog 1))
		r2=$(ev "$tf" "pacemaker-controld.*Requesting fencing .* node1" $(plog 2))
		a1=$(awk -v t="$tf" '$1 >= t && $2 == "node1" && $3 == "action=off" { print $1; exit }' "$FD/agent.log")
		a2=$(awk -v t="$tf" '$1 >= t && $2 == "node2" && $3 == "action=off" { print $1; exit }' "$FD/agent.log")
		d1=$(delay_drawn "$tf" 1 2); d2=$(delay_drawn "$tf" 2 1)
		printf '%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$tf" "$dc" "$out" \
			"$(sub "$o1" "$tf")" "$(sub "$o2" "$tf")" "$(sub "$r1" "$tf")" "$(sub "$r2" "$tf")" \
			"$(sub "$a1" "$tf")" "$(sub "$a2" "$tf")" "${d1:-NA}" "${d2:-NA}" >>"$f"
		log "$v rep $rep: $out (dc was $dc; off node1 $(sub "$o1" "$tf") node2 $(sub "$o2" "$tf"); asks n1 $(sub "$r1" "$tf") n2 $(sub "$r2" "$tf"); delays ${d1:-NA} ${d2:-NA})"
		restart_both
	done
}

mkdir -p "$OUT"
record_versions "$OUT/versions.txt"
bootstrap || exit 1
rc=0
for v in $VARIANTS; do
	case $v in
	nodelay) wait_stable 1 150 >/dev/null && set_delay "" && save_cib "$v" && run_race nodelay "${WINDOW:-15}" || rc=1 ;;
	delay) wait_stable 1 150 >/dev/null && set_delay 15s && save_cib "$v" && run_race delay "${WINDOW_DELAY:-25}" || rc=1 ;;
	*) log "unknown variant $v"; rc=1 ;;
	esac
	save_logs "$OUT/logs"
	cp "$FD/power.log" "$FD/agent.log" "$OUT/" 2>/dev/null
done
echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/versions.txt"
exit $rc
