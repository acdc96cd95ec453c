# shellcheck shell=bash
# deploy/provision --fleet: provision, upgrade or roll back many Pis from an inventory CSV.
# The first --canary K Pis go alone; the rest go (--parallel N at a time) only if every
# canary came back healthy: `kiosk status --json` over ssh shows a sync after the install and
# no sync error. Each Pi is one run of deploy/provision HOST (so the same install, the same
# idempotence), then the health check. Ends with a table: host, device, before -> after
# version, result. Logs go to INVENTORY.logs/HOST.log.

# ssh_to HOST COMMAND...: the laptop's ssh (DEPLOY_SSH), as the technician under sudo.
ssh_to() {
    # shellcheck disable=SC2154  # ssh_cmd: deploy/provision's, from $DEPLOY_SSH
    as_invoking_user "${ssh_cmd[@]}" "$@"
}

# What is installed on a Pi: "VERSION<TAB>DEVICE<TAB>NOW" ("-" for none; NOW is the Pi's
# clock, what its `kiosk status` times are compared with).
remote_facts() {
    ssh_to "$1" 'bash -s' <<'SH'
v=$(ls /opt/kiosk/lib/python3*/site-packages 2>/dev/null |
    sed -n 's/^kiosk_hub-\(.*\)\.dist-info$/\1/p' | head -n 1)
d=$(sudo -n sed -n 's/^[[:space:]]*device_id[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' \
    /etc/kiosk/kiosk.toml 2>/dev/null | head -n 1)
printf '%s\t%s\t%s\n' "${v:--}" "${d:--}" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
SH
}

# "ok", or why not: the kiosk synced after SINCE (the Pi's clock) with no error since.
sync_verdict() {  # SINCE < kiosk status --json
    python3 -c '
import json, sys
from datetime import datetime
def when(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
try:
    state = json.load(sys.stdin)
except ValueError:
    sys.exit("kiosk status --json gave no JSON")
error, at = state.get("last_sync_error"), state.get("last_sync_at")
if error:
    print("sync error: " + " ".join(str(error).split()))
elif at is None or when(at) < when(sys.argv[1]):
    print("no sync yet")
else:
    print("ok")
' "$1"
}

# Polls the kiosk until it synced after SINCE or HEALTH_TIMEOUT seconds passed; prints "ok"
# or the last reason it was not.
wait_until_synced() {  # HOST SINCE
    local deadline=$((SECONDS + HEALTH_TIMEOUT)) verdict
    while :; do
        verdict=$(ssh_to "$1" 'sudo -n /usr/local/bin/kiosk status --json' </dev/null 2>/dev/null |
            sync_verdict "$2" 2>&1) || true
        [[ $verdict == ok ]] && break
        ((SECONDS < deadline)) || break
        sleep "${DEPLOY_HEALTH_INTERVAL:-5}"
    done
    printf '%s\n' "${verdict:-no answer}"
}

# One Pi: ROW is "HOST<TAB>DEVICE<TAB>CONFIG<TAB>TOKEN"; writes the table's row to OUT.
fleet_job() {  # ROW OUT
    local host device config token out=$2 before before_device after verdict facts
    local args=() since
    IFS=$'\t' read -r host device config token <<<"$1"
    row() { printf '%s\t%s\t%s\t%s\t%s\n' "$host" "${device:--}" "$before" "$1" "$2" >"$out"; }
    before=-
    if ! facts=$(remote_facts "$host"); then
        row - "FAILED: cannot reach it over ssh (or sudo -n refused)"
        return
    fi
    IFS=$'\t' read -r before before_device _ <<<"$facts"
    if [[ -n $device && $before_device != - && $before_device != "$device" ]]; then
        row "$before" "FAILED: this Pi is $before_device, not $device: nothing done"
        return
    fi
    [[ -n $device ]] || device=$before_device
    if ((ROLLBACK)); then
        args=(--rollback)
    else
        args=(--upgrade --wheelhouse "$WHEELHOUSE")
        [[ -z $config ]] || args+=(--config "$config")
        [[ -z $token ]] || args+=(--token-file "$token")
        [[ -z $CA_FILE ]] || args+=(--ca-file "$CA_FILE")
        local server
        for server in "${NTP_SERVERS[@]}"; do args+=(--ntp "$server"); done
    fi
    echo "=== deploy/provision $host ${args[*]}"
    if ! "$HERE/provision" "$host" --yes "${args[@]}" </dev/null; then
        facts=$(remote_facts "$host") || facts="-"
        row "${facts%%$'\t'*}" "FAILED: the install (see the log)"
        return
    fi
    facts=$(remote_facts "$host") || facts=""
    IFS=$'\t' read -r after _ since <<<"$facts"
    [[ -n $since ]] || { row - "FAILED: cannot reach it after the install"; return; }
    echo "=== waiting for a sync after $since (at most ${HEALTH_TIMEOUT}s)"
    verdict=$(wait_until_synced "$host" "$since")
    echo "=== $verdict"
    if [[ $verdict == ok ]]; then
        if ((ROLLBACK)); then
            row "$after" "ok: rolled back, synced"
        elif [[ $before == - ]]; then
            row "$after" "ok: installed, synced"
        else
            row "$after" "ok: $([[ $before == "$after" ]] && echo unchanged || echo upgraded), synced"
        fi
    else
        row "$after" "FAILED: not healthy after ${HEALTH_TIMEOUT}s: $verdict"
    fi
}

# The inventory as "HOST<TAB>DEVICE<TAB>CONFIG<TAB>TOKEN" lines. Columns by name in the header
# line: host, device (or device_id), config, token_file (paths relative to the CSV); others
# are ignored, so `hub device list --format csv` with a host column, or without one and
# --host-template, is an inventory.
fleet_rows() {  # CSV TEMPLATE
    python3 - "$1" "$2" <<'PY'
import csv, os, sys
path, template = sys.argv[1], sys.argv[2]
base = os.path.dirname(os.path.abspath(path))
with open(path, newline="", encoding="utf-8") as f:
    lines = [(n, row) for n, row in enumerate(csv.reader(f), 1)
             if row and "".join(row).strip() and not row[0].lstrip().startswith("#")]
if not lines:
    sys.exit(f"{path}: no header line")
header = [h.strip().lower().replace(" ", "_") for h in lines[0][1]]
if "host" not in header and "device" not in header and "device_id" not in header:
    sys.exit(f"{path}: the header line names neither a host nor a device column")
for n, row in lines[1:]:
    cell = dict(zip(header, (c.strip() for c in row)))
    device = cell.get("device") or cell.get("device_id") or ""
    host = cell.get("host") or (template.replace("{device}", device) if device else "")
    if not host:
        sys.exit(f"{path}: line {n}: no host")
    paths = [os.path.join(base, cell[k]) if cell.get(k) else "" for k in ("config", "token_file")]
    print("\t".join([host, device, *paths]))
PY
}

# Runs fleet_job for ROWS (indices into $rows) with at most PARALLEL at once.
fleet_wave() {  # INDEX...
    local i
    for i in "$@"; do
        while (($(jobs -rp | wc -l) >= PARALLEL)); do
            wait -n || true
        done
        note "  ${rows[i]%%$'\t'*}: started"
        fleet_job "${rows[i]}" "$results/$i" >"$logs/$(log_name "${rows[i]%%$'\t'*}")" 2>&1 &
    done
    wait
}

log_name() {  # HOST
    printf '%s.log' "$(tr -c 'A-Za-z0-9._@-' '_' <<<"$1" | sed 's/_$//')"
}

# The table: host, device, before -> after, result; exit status 0 if every row is ok.
fleet_table() {  # INDEX...
    local i failed=0 host device before after result
    for i in "$@"; do
        [[ $(cut -f5 "$results/$i") == ok:* ]] || failed=$((failed + 1))
    done
    {
        printf 'host\tdevice\tversion\tresult\n'
        for i in "$@"; do
            IFS=$'\t' read -r host device before after result <"$results/$i"
            printf '%s\t%s\t%s -> %s\t%s\n' "$host" "$device" "$before" "$after" "$result"
        done
    } | awk -F'\t' '
        { for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } }
        END { for (r = 1; r <= NR; r++) printf "%-*s  %-*s  %-*s  %s\n", w[1], cell[r, 1],
              w[2], cell[r, 2], w[3], cell[r, 3], cell[r, 4] }'
    ((failed == 0)) || { note "$failed of $# Pis not ok; their logs: $logs/"; return 1; }
}

run_fleet() {
    local i n canaries rest=() canary_list=() all=() failed=0 line host device
    rows=()
    line=$(fleet_rows "$FLEET" "$HOST_TEMPLATE") || die "cannot read the inventory $FLEET"
    [[ -n $line ]] || die "$FLEET lists no Pi"
    mapfile -t rows <<<"$line"
    for i in "${!rows[@]}"; do
        [[ ${rows[i]%%$'\t'*} =~ ^[A-Za-z0-9_.@:%-]+$ ]] ||
            die "$FLEET: '${rows[i]%%$'\t'*}' is not a host name"
    done
    n=${#rows[@]}
    canaries=$((CANARY < n ? CANARY : n))
    results=$WORKDIR/results
    logs=$FLEET.logs
    mkdir -p "$results" "$logs"
    give_to_invoking_user "$logs"
    for ((i = 0; i < n; i++)); do
        all+=("$i")
        if ((i < canaries)); then canary_list+=("$i"); else rest+=("$i"); fi
    done
    note "$( ((ROLLBACK)) && echo "rolling back" || echo "provisioning") $n Pis from $FLEET" \
        "($canaries canary, then $PARALLEL at a time; logs in $logs/)"
    ((canaries == 0)) || fleet_wave "${canary_list[@]}"
    for i in "${canary_list[@]}"; do
        [[ $(cut -f5 "$results/$i") == ok:* ]] || failed=1
    done
    if ((failed)); then
        note "a canary failed: the other $((n - canaries)) Pis are left as they are"
        for i in "${rest[@]}"; do
            IFS=$'\t' read -r host device _ <<<"${rows[i]}"
            printf '%s\t%s\t?\t?\tnot attempted: a canary failed\n' "$host" "${device:--}" \
                >"$results/$i"
        done
    elif ((${#rest[@]})); then
        ((canaries == 0)) || note "the canaries are healthy: the other ${#rest[@]} Pis now"
        fleet_wave "${rest[@]}"
    fi
    give_to_invoking_user "$logs"
    note ""
    fleet_table "${all[@]}"
}
