#!/usr/bin/env bash
# Measure real keepalived (Debian 2.2.7) VRRPv3 failover under a network partition.
#
# Topology (all inside network namespaces this script creates and deletes):
#   hsm-br  : bridge br0 with ports p-lb1, p-lb2, p-cl  (no IP address)
#   hsm-lb1 : eth0 10.200.0.11/24, keepalived priority 100 (state MASTER)
#   hsm-lb2 : eth0 10.200.0.12/24, keepalived priority 90  (state BACKUP)
#   hsm-cl  : eth0 10.200.0.50/24, passive observer (tcpdump: adverts + GARPs)
# VRRP instance VI_1, vrid 51, advert_int 1, vrrp_version 3, VIP 10.200.0.100/24.
#
# Partition = an nft rule in the bridge namespace (family bridge, forward hook)
# dropping every frame forwarded p-lb1 -> p-lb2 and p-lb2 -> p-lb1.  Only the
# peer link is cut: both nodes still reach the observer, and tcpdump inside
# hsm-lb2 sees exactly the frames that reach lb2 (no host firewall in between).
#
# Usage (from the repo root):
#   bash reports/real-measurements/keepalived-partition.sh
# Environment: REPS (default 12), VARIANTS (default "multicast unicast"),
#   OUT (default reports/real-measurements/data/keepalived-partition).
# Output: $OUT/<variant>/{lb1,lb2}.log (keepalived console log, each line
#   prefixed with the epoch time it was read), tcpdump text files, and
#   $OUT/partition.tsv (one row per repetition).
set -uo pipefail
# Bounded run: re-run this script under timeout(1); its SIGTERM triggers the
# cleanup trap below (SIGKILL 30 s later if cleanup itself hangs).
if [ -z "${HSM_BOUNDED:-}" ]; then
	HSM_BOUNDED=1 exec timeout --kill-after=30 "${MAX_SECONDS:-900}" bash "${BASH_SOURCE[0]}" "$@"
fi

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPS=${REPS:-12}
VARIANTS=${VARIANTS:-"multicast unicast"}
OUT=${OUT:-$HERE/data/keepalived-partition}
WORK=/run/hsm-ka-partition
MAX_SECONDS=${MAX_SECONDS:-900}
NS_BR=hsm-br NS1=hsm-lb1 NS2=hsm-lb2 NSC=hsm-cl
ALL_NS="$NS1 $NS2 $NSC $NS_BR"
PIDS=()

log() { printf '[%s] %s\n' "$(date -u +%T.%3N)" "$*" >&2; }

kill_started() {
	local p f
	# keepalived daemons: parent and VRRP child, from their pid files
	for f in "$WORK"/*.pid; do
		[ -f "$f" ] || continue
		p=$(cat "$f" 2>/dev/null) || continue
		[ -n "$p" ] && kill -9 "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	PIDS=()
	rm -f "$WORK"/*.pid
}

cleanup() {
	kill_started
	for ns in $ALL_NS; do ip netns del "$ns" 2>/dev/null; done
}

on_exit() { local rc=$?; cleanup; exit $rc; }
trap on_exit EXIT
trap 'log "interrupted"; exit 130' INT TERM


# Prefix each line read on stdin with the epoch time (microseconds) it arrived.
stamp() { local l; while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done; }

setup_net() {
	cleanup
	ip netns add "$NS_BR" || return 1
	ip -n "$NS_BR" link set lo up
	ip -n "$NS_BR" link add br0 type bridge
	ip -n "$NS_BR" link set br0 up
	local ns addr port
	for pair in "$NS1:10.200.0.11:p-lb1" "$NS2:10.200.0.12:p-lb2" "$NSC:10.200.0.50:p-cl"; do
		IFS=: read -r ns addr port <<<"$pair"
		ip netns add "$ns" || return 1
		ip -n "$ns" link set lo up
		ip -n "$NS_BR" link add "$port" type veth peer name eth0 netns "$ns" || return 1
		ip -n "$NS_BR" link set "$port" master br0 up
		ip -n "$ns" addr add "$addr/24" dev eth0
		ip -n "$ns" link set eth0 up
	done
	# Table used for the partition; the chain is empty while healed.
	ip netns exec "$NS_BR" nft -f - <<-'EOF'
	table bridge hsm {
		chain cut { type filter hook forward priority 0; policy accept; }
	}
	EOF
}

partition() {
	ip netns exec "$NS_BR" nft -f - <<-'EOF'
	add rule bridge hsm cut iifname "p-lb1" oifname "p-lb2" drop
	add rule bridge hsm cut iifname "p-lb2" oifname "p-lb1" drop
	EOF
}
heal() { ip netns exec "$NS_BR" nft flush chain bridge hsm cut; }

write_conf() { # node prio state self peer variant
	local node=$1 prio=$2 state=$3 self=$4 peer=$5 variant=$6 uni=""
	if [ "$variant" = unicast ]; then
		uni="    unicast_src_ip $self
    unicast_peer {
        $peer
    }"
	fi
	cat >"$WORK/$node.conf" <<-EOF
	global_defs {
	    router_id $node
	    vrrp_version 3
	    script_user root
	    enable_script_security
	}
	vrrp_instance VI_1 {
	    state $state
	    interface eth0
	    virtual_router_id 51
	    priority $prio
	    advert_int 1
	$uni
	    virtual_ipaddress {
	        10.200.0.100/24
	    }
	    notify "$WORK/notify.sh $node"
	}
	EOF
}

start_ka() { # node ns logfile
	local node=$1 ns=$2 logf=$3
	ip netns exec "$ns" keepalived -n -l -D -G -P -f "$WORK/$node.conf" \
		-p "$WORK/$node.pid" -r "$WORK/$node-vrrp.pid" -c "$WORK/$node-chk.pid" \
		</dev/null 2>&1 | stamp >>"$logf" &
	PIDS+=($!)
	disown $! 2>/dev/null
}

start_tcpdump() { # ns outfile filter...
	local ns=$1 f=$2; shift 2
	ip netns exec "$ns" tcpdump -i eth0 -n -e -tt -l --immediate-mode "$@" >"$f" 2>/dev/null &
	PIDS+=($!)
}

# Last state each node's notify script reported ("" if none yet).
state_of() { awk -v n="$1" '$2==n {s=$5} END {print s}' "$WORK/notify.log" 2>/dev/null; }

wait_states() { # want1 want2 timeout_s
	local deadline=$((SECONDS + $3))
	while [ $SECONDS -lt $deadline ]; do
		[ "$(state_of lb1)" = "$1" ] && [ "$(state_of lb2)" = "$2" ] && return 0
		sleep 0.05
	done
	return 1
}

# First/last timestamp helpers on stamped logs and tcpdump text.
first_log_after() { awk -v t="$2" -v pat="$3" '$1>t && index($0,pat) {print $1; exit}' "$1"; }
first_adv_from_after() { awk -v t="$2" -v src="$3" '$1>t && /VRRPv3/ && $0 ~ ("IPv4.*" src " > ") {print $1; exit}' "$1"; }
last_adv_from_before() { awk -v t="$2" -v src="$3" '$1<t && /VRRPv3/ && $0 ~ ("IPv4.*" src " > ") {x=$1} END {print x}' "$1"; }
count_garp() { # file from to mac_of_node
	awk -v a="$2" -v b="$3" -v m="$4" '$1>=a && $1<=b && /ARP/ && /who-has 10\.200\.0\.100 .*tell 10\.200\.0\.100|Reply 10\.200\.0\.100 is-at/ && index($0,m) {c++} END {print c+0}' "$1"
}
sub() { awk -v a="$1" -v b="$2" 'BEGIN { if (a=="" || b=="") print "NA"; else printf "%.4f", a-b }'; }

run_variant() {
	local variant=$1 dir="$OUT/$1" rep
	mkdir -p "$dir"
	rm -f "$dir"/*
	setup_net || { log "namespace setup failed"; return 1; }
	rm -rf "$WORK"; mkdir -p "$WORK"; chmod 755 "$WORK"
	cat >"$WORK/notify.sh" <<-EOF
	#!/bin/bash
	# args: node INSTANCE VI_1 STATE PRIORITY
	echo "\$EPOCHREALTIME \$1 \$2 \$3 \$4 \$5" >> $WORK/notify.log
	EOF
	chmod 755 "$WORK/notify.sh"; : >"$WORK/notify.log"
	local mac1 mac2
	mac1=$(ip -n "$NS1" -o link show eth0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
	mac2=$(ip -n "$NS2" -o link show eth0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
	echo "lb1 $mac1" >"$dir/macs.txt"; echo "lb2 $mac2" >>"$dir/macs.txt"
	write_conf lb1 100 MASTER 10.200.0.11 10.200.0.12 "$variant"
	write_conf lb2 90 BACKUP 10.200.0.12 10.200.0.11 "$variant"
	cp "$WORK/lb1.conf" "$WORK/lb2.conf" "$dir/"
	start_tcpdump "$NS2" "$dir/tcpdump-lb2.txt" 'ip proto 112 or arp'
	start_tcpdump "$NSC" "$dir/tcpdump-client.txt" 'ip proto 112 or arp'
	sleep 1
	start_ka lb1 "$NS1" "$dir/lb1.log"
	start_ka lb2 "$NS2" "$dir/lb2.log"
	if ! wait_states MASTER BACKUP 20; then
		log "$variant: did not reach lb1=MASTER lb2=BACKUP (lb1=$(state_of lb1) lb2=$(state_of lb2))"
		return 1
	fi
	log "$variant: lb1 MASTER, lb2 BACKUP"
	sleep 2
	for rep in $(seq 1 "$REPS"); do
		# random phase relative to lb1's 1 s advert timer
		sleep "0.$(printf %03d $((RANDOM % 1000)))"
		local tp0 tp1 th0 th1
		tp0=$EPOCHREALTIME; partition; tp1=$EPOCHREALTIME
		if ! wait_states MASTER MASTER 10; then log "rep $rep: lb2 did not take over"; heal; return 1; fi
		# let both masters advertise (dual-master phase), heal at a random phase
		sleep "1.$(printf %03d $((RANDOM % 1000)))"
		th0=$EPOCHREALTIME; heal; th1=$EPOCHREALTIME
		if ! wait_states MASTER BACKUP 10; then log "rep $rep: split did not resolve"; return 1; fi
		sleep 6.5 # observe GARPs incl. the garp_master_delay (5 s) repeat
		# resolved_by: lb1_rx_lower_prio_forced_advert when lb1 (still MASTER) received one of
		# lb2's adverts after the heal and answered at once ("forcing new election", plus
		# GARPs); lb2_rx_lb1_periodic_advert when lb1's regular advert reached lb2 first.
		local last_rx m_log m_notify m_adv b_log f_elect garp1 garp2 rx_high
		last_rx=$(last_adv_from_before "$dir/tcpdump-lb2.txt" "$tp1" 10.200.0.11)
		m_log=$(first_log_after "$dir/lb2.log" "$tp0" "Entering MASTER STATE")
		m_notify=$(awk -v t="$tp0" '$1>t && $2=="lb2" && $5=="MASTER" {print $1; exit}' "$WORK/notify.log")
		m_adv=$(first_adv_from_after "$dir/tcpdump-lb2.txt" "$tp0" 10.200.0.12)
		b_log=$(first_log_after "$dir/lb2.log" "$th0" "Entering BACKUP STATE")
		rx_high=$(first_log_after "$dir/lb2.log" "$th0" "with higher priority")
		f_elect=$(first_log_after "$dir/lb1.log" "$th0" "forcing new election")
		garp1=$(count_garp "$dir/tcpdump-client.txt" "$th0" "$(awk -v t="$th0" 'BEGIN{printf "%.6f", t+7}')" "$mac1")
		garp2=$(count_garp "$dir/tcpdump-client.txt" "$th0" "$(awk -v t="$th0" 'BEGIN{printf "%.6f", t+7}')" "$mac2")
		printf '%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
			"$variant" "$rep" "$tp0" "$(sub "$tp1" "$tp0")" "$last_rx" \
			"$(sub "$m_log" "$tp0")" "$(sub "$m_adv" "$tp0")" "$(sub "$m_notify" "$tp0")" \
			"$(sub "$m_log" "$last_rx")" "$(sub "$m_adv" "$last_rx")" \
			"$th0" "$(sub "$rx_high" "$th0")" "$(sub "$b_log" "$th0")" "$(sub "$f_elect" "$th0")" \
			"$garp1" "$garp2" "$(sub "$tp0" "$last_rx")" "$m_adv" "$b_log" \
			"$(if [ -n "$f_elect" ]; then echo lb1_rx_lower_prio_forced_advert; else echo lb2_rx_lb1_periodic_advert; fi)" >>"$OUT/partition.tsv"
		log "$variant rep $rep: partition->lb2 MASTER(log) $(sub "$m_log" "$tp0") s, last rx advert->MASTER $(sub "$m_log" "$last_rx") s, heal->lb2 BACKUP $(sub "$b_log" "$th0") s"
	done
	cp "$WORK/notify.log" "$dir/notify.log"
	kill_started
}

mkdir -p "$OUT"
printf 'variant\trep\tt_partition\tnft_cmd_s\tt_last_lb1_advert_rx_at_lb2\tpart_to_master_log_s\tpart_to_first_lb2_advert_s\tpart_to_notify_master_s\tlastrx_to_master_log_s\tlastrx_to_first_lb2_advert_s\tt_heal\theal_to_lb2_rx_higher_prio_s\theal_to_lb2_backup_log_s\theal_to_lb1_forcing_election_s\tgarps_lb1_mac_7s_after_heal\tgarps_lb2_mac_7s_after_heal\tlastrx_to_partition_s\tt_first_lb2_advert\tt_lb2_backup\tresolved_by\n' >"$OUT/partition.tsv"
{
	echo "date_utc: $(date -u +%FT%TZ)"
	echo "kernel: $(uname -r)"
	keepalived --version 2>&1 | head -1
	dpkg-query -W keepalived nftables tcpdump 2>/dev/null
} >"$OUT/versions.txt"
rc=0
for v in $VARIANTS; do run_variant "$v" || rc=1; done
exit $rc
