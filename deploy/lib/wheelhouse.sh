# shellcheck shell=bash
# The wheelhouse: the kiosk's own wheel (built from this checkout) and every dependency, as
# wheels for the Pi (aarch64) and the Python of Raspberry Pi OS Bookworm (3.11) and Trixie
# (3.13), plus pip itself, so that the Pi installs with no network at all.

PI_PYTHONS=(3.11 3.13)
PI_PLATFORMS=(--platform manylinux_2_17_aarch64 --platform manylinux2014_aarch64
    --platform linux_aarch64 --platform any)

pip_cmd() {
    if [[ -n "${DEPLOY_PIP:-}" ]]; then
        # shellcheck disable=SC2086  # a command line, e.g. "/path/venv/bin/python -m pip"
        $DEPLOY_PIP "$@"
    else
        python3 -m pip "$@"
    fi
}

build_wheelhouse() {  # DIR CHECKOUT
    local dir=$1 checkout=$2 wheel python
    mkdir -p "$dir"
    note "building the wheelhouse (kiosk wheel from $checkout, dependencies from the package index)"
    pip_cmd wheel --quiet --no-deps --wheel-dir "$dir" "$checkout" ||
        die "could not build the kiosk wheel from $checkout (pip wheel)"
    wheel=$(find "$dir" -maxdepth 1 -name 'kiosk_hub-*.whl' | head -n 1)
    for python in "${PI_PYTHONS[@]}"; do
        pip_cmd download --quiet --dest "$dir" --only-binary=:all: "${PI_PLATFORMS[@]}" \
            --python-version "$python" --implementation cp "$wheel" pip ||
            die "could not download the dependencies for Python $python on aarch64 (no network? build one with internet and pass --wheelhouse DIR)"
    done
}

# A wheelhouse given with --wheelhouse must at least hold the kiosk's wheel.
check_wheelhouse() {  # DIR
    [[ -d "$1" ]] || usage_error "--wheelhouse: no directory '$1'"
    compgen -G "$1/kiosk_hub-*.whl" >/dev/null ||
        die "--wheelhouse $1 has no kiosk_hub-*.whl (build one with: pip wheel --no-deps -w $1 .)"
    compgen -G "$1/pip-*.whl" >/dev/null ||
        note "warning: $1 has no pip wheel; the Pi will need python3-venv (ensurepip) to install"
}

wheelhouse_version() {  # DIR
    find "$1" -maxdepth 1 -name 'kiosk_hub-*.whl' -printf '%f\n' | sed -n 's/^kiosk_hub-\([^-]*\)-.*/\1/p' | head -n 1
}
