# shellcheck shell=bash
# Batch mode of deploy/flash: a fleet CSV (device_id,location,hostname), each device registered
# with the hub (its token kept), card after card flashed by running deploy/flash once per row.
# FILE.csv.state lists the devices done, so a re-run after a bad card skips them.

HUB_CLI="sudo -u kiosk-hub /opt/kiosk-hub/bin/hub --db /var/lib/kiosk-hub/hub.db"

# register_device ID LOCATION: prints the new device token. $DEPLOY_HUB_CMD replaces the whole
# "ssh HUB sudo -u kiosk-hub .../hub --db ..." prefix (tests, or a hub reached another way).
register_device() {
    local hub_cmd cli
    if [[ -n ${DEPLOY_HUB_CMD:-} ]]; then
        read -r -a hub_cmd <<<"$DEPLOY_HUB_CMD"
    else
        read -r -a cli <<<"${HUB_COMMAND:-$HUB_CLI}"
        hub_cmd=(ssh -- "$HUB_SSH" "${cli[@]}")
    fi
    as_invoking_user "${hub_cmd[@]}" device add "$1" --location "$2" </dev/null
}

# fleet_config TEMPLATE ID: the template with its device_id line set to ID.
fleet_config() {
    if grep -Eq '^[[:space:]]*device_id[[:space:]]*=' "$1"; then
        sed -E "s/^[[:space:]]*device_id[[:space:]]*=.*/device_id = \"$2\"/" "$1"
    else
        printf 'device_id = "%s"\n' "$2"
        cat -- "$1"
    fi
}

# flash_options: the options of this run that every card gets.
flash_options() {
    local options=(--user "$TECH_USER" --wheelhouse "$WHEELHOUSE")
    ((YES)) && options+=(--yes)
    [[ -n $SSH_KEY_FILE ]] && options+=(--ssh-key "$SSH_KEY_FILE")
    [[ -n $KIOSK_TIMEZONE ]] && options+=(--timezone "$KIOSK_TIMEZONE")
    [[ -n $WIFI_SSID ]] && options+=(--wifi-ssid "$WIFI_SSID" --wifi-psk-file "$WIFI_PSK_FILE"
        --wifi-country "$WIFI_COUNTRY")
    [[ -n $CA_FILE ]] && options+=(--ca-file "$CA_FILE")
    local server
    for server in "${NTP_SERVERS[@]}"; do options+=(--ntp "$server"); done
    printf '%s\0' "${options[@]}"
}

# run_batch: BATCH (the CSV), IMAGE, TARGET (may hold {hostname}), CONFIG (the template) and
# the other options of deploy/flash, one card per row.
run_batch() {
    local csv=$BATCH template=$CONFIG
    local state=$BATCH.state tokens=$BATCH.tokens work summary=() failed=0 line=0
    local id location host token answer card options=()
    if [[ -z $WHEELHOUSE ]]; then
        # Built once for the whole fleet.
        WHEELHOUSE=$WORKDIR/wheelhouse
        build_wheelhouse "$WHEELHOUSE" "$CHECKOUT"
    fi
    mapfile -d '' -t options < <(flash_options)
    touch "$state"
    mkdir -p "$tokens"
    chmod 0700 "$tokens"
    give_to_invoking_user "$state" "$tokens"
    work=$WORKDIR/configs
    mkdir -p "$work"
    while IFS=, read -r -u 3 id location host || [[ -n $id ]]; do
        line=$((line + 1))
        id=$(tr -d ' \r' <<<"$id") location=$(tr -d ' \r' <<<"$location") host=$(tr -d ' \r' <<<"$host")
        [[ -z $id || $id == \#* || ($line == 1 && $id == device_id) ]] && continue
        [[ -n $host ]] || host=$id
        if ! [[ $id =~ ^[a-z0-9][a-z0-9._-]*$ && $location =~ ^[a-z0-9][a-z0-9-]*$ ]]; then
            summary+=("$id	line $line: bad device_id or location, skipped")
            failed=$((failed + 1))
            continue
        fi
        if grep -qxF "flashed $id" "$state"; then
            summary+=("$id	done before, skipped")
            continue
        fi
        token=$tokens/$id
        if [[ ! -s $token ]]; then
            note "registering $id at $location"
            if ! (umask 077 && register_device "$id" "$location" >"$token.new") || [[ ! -s $token.new ]]; then
                rm -f "$token.new"
                summary+=("$id	registration with the hub failed")
                failed=$((failed + 1))
                continue
            fi
            mv -f "$token.new" "$token"
            give_to_invoking_user "$token"
            echo "registered $id" >>"$state"
        fi
        fleet_config "$template" "$id" >"$work/$id.toml"
        card=${TARGET//\{hostname\}/$host}
        if [[ $(target_kind "$card") == block ]]; then
            printf '\nInsert the card for %s (%s) into %s, then press Enter (s = skip, q = quit): ' \
                "$id" "$host" "$card" >&2
            answer=""
            read -r answer || answer=q
            case $answer in
                q) summary+=("$id	not flashed (quit)"); break ;;
                s) summary+=("$id	skipped by you"); continue ;;
            esac
        fi
        if "$HERE/flash" "$IMAGE" "$card" --config "$work/$id.toml" --token-file "$token" \
            --hostname "$host" "${options[@]}"; then
            echo "flashed $id" >>"$state"
            summary+=("$id	flashed (hostname $host)")
        else
            summary+=("$id	FLASH FAILED")
            failed=$((failed + 1))
        fi
    done 3<"$csv"
    note ""
    note "Summary ($csv):"
    local row
    for row in "${summary[@]}"; do
        note "  $row"
    done
    note "$failed failed; done devices are listed in $state"
    ((failed == 0))
}
