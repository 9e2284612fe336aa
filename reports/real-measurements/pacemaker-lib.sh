# Shared helpers for pacemaker-timings.sh and pacemaker-fencing.sh (sourced, not run).
#
# A three-node Pacemaker 2.1.5 + Corosync 3.1.7 cluster on one host:
#   hsm-pbr          : bridge br0 with ports p-n1..p-n3 (no address)
#   hsm-p1..hsm-p3   : network namespaces, eth0 = 10.200.2.{1,2,3}/24
# Each node's daemons run under
#   ip netns exec hsm-pN unshare -m -u -p -f --mount-proc --propagation private sh node.sh N DIR
# i.e. in the node's network namespace plus a private mount, UTS (hostname nodeN) and PID
# namespace. Inside, node.sh mounts fresh tmpfs on /run and /dev/shm (libqb IPC puts its
# shared-memory ring buffers and pid-less lock files there) and bind-mounts the node's own
# copies of /etc/corosync, /var/lib/corosync, /var/lib/pacemaker and /var/log/pacemaker.
# libqb IPC sockets are abstract unix sockets, which belong to the network namespace.
# The PID namespace keeps pacemaker-controld's load throttle from reading another node's
# pacemaker-based in /proc (it looks the process up by name).
# CLI tools (crm_mon, cibadmin, crm_resource, ...) run through `pcmk_on N cmd...`, which
# nsenters the node's mount, network and UTS namespaces (the shm files must be visible).
#
# Power loss of node N (`power_off N`): the node's bridge port goes down, then one kill -9
# of every process in hsm-pN (corosync, pacemakerd and all children, running agents).
# `restore_node N` flushes what the dead node left on eth0 (its VIP), brings the port up and
# starts the node again with its /var/lib/pacemaker as it was (a reboot: /run is new).
# HSM_PCMK_DEBUG (default no) is passed to the daemons as PCMK_debug, e.g. pacemaker-controld.

NS_BR=hsm-pbr
NODES="1 2 3"
PIDS=()
WORK=${WORK:-/tmp/hsm-pacemaker}
VIP=10.200.2.100

log() { printf '[%s] %s\n' "$(date -u +%T.%3N)" "$*" >&2; }

node_pid() { # node [comm] -> host pid of a process of that node (default: corosync)
	local p want=${2:-corosync}
	for p in $(ip netns pids "hsm-p$1" 2>/dev/null); do
		[ "$(cat /proc/"$p"/comm 2>/dev/null)" = "$want" ] && { echo "$p"; return 0; }
	done
	return 1
}

pcmk_on() { # node cmd... : run a command in node N's namespaces
	local n=$1 p; shift
	p=$(node_pid "$n" pacemakerd) || p=$(node_pid "$n") || return 1
	nsenter -t "$p" -m -n -u "$@"
}

node_alive() { node_pid "$1" pacemakerd >/dev/null; }

kill_node() { # node : SIGKILL every process in the node's network namespace at once
	local pids
	pids=$(ip netns pids "hsm-p$1" 2>/dev/null)
	[ -n "$pids" ] && kill -9 $pids 2>/dev/null
	return 0
}

cleanup() {
	local n
	for n in $NODES; do kill_node "$n"; done
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	PIDS=()
	sleep 0.3
	for n in $NODES; do ip netns del "hsm-p$n" 2>/dev/null; done
	ip netns del "$NS_BR" 2>/dev/null
	[ -n "${FENCE_LINK:-}" ] && rm -f "$FENCE_LINK"
	return 0
}

setup_net() {
	cleanup
	ip netns add "$NS_BR" || return 1
	ip -n "$NS_BR" link set lo up
	ip -n "$NS_BR" link add br0 type bridge
	ip -n "$NS_BR" link set br0 up
	local n
	for n in $NODES; do
		ip netns add "hsm-p$n" || return 1
		ip -n "hsm-p$n" link set lo up
		ip -n "$NS_BR" link add "p-n$n" type veth peer name eth0 netns "hsm-p$n" || return 1
		ip -n "$NS_BR" link set "p-n$n" master br0 up
		ip -n "hsm-p$n" addr add "10.200.2.$n/24" dev eth0
		ip -n "hsm-p$n" link set eth0 up
	done
}

write_node_files() { # node : fresh per-node state directories and corosync.conf
	local n=$1 d="$WORK/node$1" i
	rm -rf "$d"
	mkdir -p "$d/etc-corosync" "$d/lib-corosync" "$d/log-pacemaker/bundles" "$d/lib-pacemaker"
	cp -a /var/lib/pacemaker/. "$d/lib-pacemaker/"
	rm -rf "$d/lib-pacemaker/cib/"* "$d/lib-pacemaker/pengine/"* "$d/lib-pacemaker/blackbox/"*
	chown hacluster:haclient "$d/log-pacemaker" "$d/log-pacemaker/bundles"
	chmod 0770 "$d/log-pacemaker"
	{
		cat <<-EOF
		totem {
		    version: 2
		    cluster_name: hsm
		    transport: knet
		    crypto_cipher: none
		    crypto_hash: none
		}
		nodelist {
		EOF
		for i in $NODES; do
			printf '    node {\n        ring0_addr: 10.200.2.%s\n        nodeid: %s\n        name: node%s\n    }\n' "$i" "$i" "$i"
		done
		cat <<-EOF
		}
		quorum {
		    provider: corosync_votequorum
		}
		logging {
		    to_logfile: yes
		    logfile: /var/log/pacemaker/corosync.log
		    to_syslog: no
		    to_stderr: no
		    timestamp: hires
		}
		EOF
	} >"$d/etc-corosync/corosync.conf"
	cat >"$WORK/node.sh" <<-'EOF'
	# runs as PID 1 of the node's PID namespace, in its own mount and UTS namespaces
	n=$1; d=$2
	hostname "node$n"
	mount -t tmpfs -o mode=0755 hsm-run /run
	mount -t tmpfs -o mode=1777 hsm-shm /dev/shm
	mount --bind "$d/etc-corosync" /etc/corosync
	mount --bind "$d/lib-corosync" /var/lib/corosync
	mount --bind "$d/lib-pacemaker" /var/lib/pacemaker
	mount --bind "$d/log-pacemaker" /var/log/pacemaker
	corosync -f >>"$d/corosync.stdout" 2>&1 &
	i=0
	while ! corosync-cfgtool -s >/dev/null 2>&1; do
		sleep 0.05; i=$((i + 1)); [ $i -gt 400 ] && exit 1
	done
	echo "$(date +%s.%N) corosync ipc ready" >>"$d/wrapper.log"
	PCMK_logfile=/var/log/pacemaker/pacemaker.log PCMK_debug="${HSM_PCMK_DEBUG:-no}" \
		pacemakerd >>"$d/pacemakerd.stdout" 2>&1 &
	wait $!
	echo "$(date +%s.%N) pacemakerd exited $?" >>"$d/wrapper.log"
	EOF
}

start_node() { # node
	local n=$1 d="$WORK/node$1"
	ip netns exec "hsm-p$n" unshare -m -u -p -f --mount-proc --propagation private \
		sh "$WORK/node.sh" "$n" "$d" >>"$d/wrapper.out" 2>&1 </dev/null &
	PIDS+=($!)
	disown $! 2>/dev/null
}

power_off() { # node : port down, then kill -9 of everything in the namespace
	ip -n "$NS_BR" link set "p-n$1" down
	kill_node "$1"
}

restore_node() { # node : a rebooted machine comes back (no VIP on eth0, port up, daemons start)
	local n=$1 i
	for i in $(seq 1 50); do ip netns pids "hsm-p$n" | grep -q . || break; sleep 0.1; done
	ip -n "hsm-p$n" addr flush dev eth0
	ip -n "hsm-p$n" addr add "10.200.2.$n/24" dev eth0
	ip -n "$NS_BR" link set "p-n$n" up
	start_node "$n"
}

# ---- cluster state (crm_mon XML) ---------------------------------------------------------
# cluster_state node -> one line: "dc=nodeX online=N active=M vip=nodeA d1=nodeB d2=nodeC"
cluster_state() {
	pcmk_on "$1" crm_mon -1 --output-as=xml 2>/dev/null | awk '
		/<current_dc / { if (match($0, /name="[^"]*"/)) dc = substr($0, RSTART + 6, RLENGTH - 7) }
		/<node name=.*online="true"/ && !inres { online++ }
		/<resource id=/ { inres = 1; match($0, /id="[^"]*"/); rid = substr($0, RSTART + 4, RLENGTH - 5)
		                  if ($0 ~ /active="true"/ && $0 ~ /role="Started"/) active++
		                  if ($0 ~ /\/>$/) inres = 0 }
		/<\/resource>/ { inres = 0 }
		inres && /<node name=/ { match($0, /name="[^"]*"/); where[rid] = where[rid] (where[rid] ? "," : "") substr($0, RSTART + 6, RLENGTH - 7) }
		END { printf "dc=%s online=%d active=%d vip=%s d1=%s d2=%s\n", dc, online, active, where["vip"], where["d1"], where["d2"] }'
}
field() { sed -n "s/.*\b$2=\([^ ]*\).*/\1/p" <<<"$1"; }

# wait until the cluster seen from node N has WANT_ONLINE (default 3) online nodes, a DC, WANT_ACTIVE started
# resource instances and nothing pending (crm_resource --wait); prints the state line
wait_stable() { # node timeout_s
	local n=$1 deadline=$((SECONDS + $2)) st
	while [ $SECONDS -lt $deadline ]; do
		st=$(cluster_state "$n")
		if [ "$(field "$st" online)" = "${WANT_ONLINE:-3}" ] && [ -n "$(field "$st" dc)" ] && [ "$(field "$st" active)" = "${WANT_ACTIVE:-6}" ]; then
			if pcmk_on "$n" crm_resource --wait --timeout=60 >/dev/null 2>&1; then
				cluster_state "$n"; return 0
			fi
		fi
		sleep 0.5
	done
	return 1
}

# ---- log parsing ---------------------------------------------------------------------------
# Pacemaker's detail log and corosync's hires log both start "Mon DD HH:MM:SS.mmm".
# ev T REGEX FILE... -> epoch (s.ms) of the earliest line at or after T matching REGEX (awk ERE)
ev() {
	local t=$1 re=$2; shift 2
	gawk -v t="$t" -v re="$re" -v yr="$(date +%Y)" '
		BEGIN { split("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec", m, " "); for (i in m) mon[m[i]] = i; best = "" }
		$0 ~ re {
			split($3, hms, "[:.]")
			e = mktime(yr " " mon[$1] " " $2 " " hms[1] " " hms[2] " " hms[3], 1) + hms[4] / 1000
			if (e >= t - 0.0005 && (best == "" || e < best)) best = e
		}
		END { if (best != "") printf "%.3f\n", best }' "$@" 2>/dev/null
}
# evs T REGEX FILE... -> all matching epochs at or after T, sorted
evs() {
	local t=$1 re=$2; shift 2
	gawk -v t="$t" -v re="$re" -v yr="$(date +%Y)" '
		BEGIN { split("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec", m, " "); for (i in m) mon[m[i]] = i }
		$0 ~ re {
			split($3, hms, "[:.]")
			e = mktime(yr " " mon[$1] " " $2 " " hms[1] " " hms[2] " " hms[3], 1) + hms[4] / 1000
			if (e >= t - 0.0005) printf "%.3f\n", e
		}' "$@" 2>/dev/null | sort -n
}
wait_ev() { # timeout_s T REGEX FILE...
	local deadline=$((SECONDS + $1)) e; shift
	while [ $SECONDS -lt $deadline ]; do
		e=$(ev "$@")
		[ -n "$e" ] && { echo "$e"; return 0; }
		sleep 0.2
	done
	return 1
}
plog() { local n; for n in "$@"; do printf '%s ' "$WORK/node$n/log-pacemaker/pacemaker.log"; done; }
clog() { local n; for n in "$@"; do printf '%s ' "$WORK/node$n/log-pacemaker/corosync.log"; done; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "") print "NA"; else printf "%.3f", a - b }'; }
others() { local n; for n in $NODES; do [ "$n" != "$1" ] && printf '%s ' "$n"; done; }
rand_ms() { printf '%d.%03d' $(( $1 / 1000 )) $(( $1 % 1000 )); } # ms -> seconds string

save_logs() { # dir : pacemaker logs (filtered plain + full gzip) and corosync logs of every node
	local dir=$1 n
	mkdir -p "$dir"
	for n in $NODES; do
		# notice and above, plus the controller's info-level state transitions and election lines
		grep -E "\)[[:space:]]+(notice|warning|error|crit):|State transition|election-DC|Election" \
			"$WORK/node$n/log-pacemaker/pacemaker.log" >"$dir/pacemaker-node$n.notice.log" 2>/dev/null
		gzip -9c "$WORK/node$n/log-pacemaker/pacemaker.log" >"$dir/pacemaker-node$n.full.log.gz" 2>/dev/null
		cp "$WORK/node$n/log-pacemaker/corosync.log" "$dir/corosync-node$n.log" 2>/dev/null
	done
}

record_versions() { # file
	{
		echo "date_utc: $(date -u +%FT%TZ)"
		echo "kernel: $(uname -r), cores: $(nproc), loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
		corosync -v 2>&1 | head -1
		pacemakerd --version 2>&1 | head -1
		dpkg-query -W pacemaker pacemaker-cli-utils pacemaker-resource-agents resource-agents corosync libknet1 libqb100 fence-agents 2>/dev/null
	} >"$1"
}

# The fence stand-in's power controller (pacemaker-fencing.sh,
# pacemaker-fence-race.sh): acts on the request files fence_hsm writes into
# $FD, logs each step to $FD/power.log and acknowledges.
power_controller() {
	local r act node n
	while :; do
		for r in "$FD"/req-*; do
			[ -e "$r" ] || continue
			read -r act node <"$r"
			n=${node#node}
			echo "$EPOCHREALTIME $act $node begin" >>"$FD/power.log"
			case $act in
			off | reboot)
				power_off "$n"; echo off >"$FD/$node.power"
				echo "$EPOCHREALTIME $act $node off" >>"$FD/power.log" ;;
			esac
			case $act in
			on | reboot)
				restore_node "$n"; echo on >"$FD/$node.power"
				echo "$EPOCHREALTIME $act $node on" >>"$FD/power.log" ;;
			esac
			mv "$r" "${r/req-/ack-}"
		done
		sleep 0.02
	done
}
