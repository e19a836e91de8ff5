#!/usr/bin/env bash
# `make test-pythons`: the test suite on every supported Python found on this machine.
#
# For each version in $TEST_PYTHONS (default "3.11 3.12 3.13") it looks for an interpreter:
# `python3.X` on PATH (a pyenv shim counts only if it runs), else the newest 3.X of pyenv
# (`pyenv versions`). Each one gets its own virtual environment .venv-3.X with
# `pip install -e ".[dev]"` (again only when pyproject.toml is newer than .venv-3.X/.installed),
# then `python -m pytest $PYTEST_ARGS`. A version that is not found is reported and skipped.
# Exit status: 0 if every interpreter found passed (and at least one was found), else 1.
set -uo pipefail

VERSIONS="${TEST_PYTHONS:-3.11 3.12 3.13}"
read -r -a PYTEST_ARGV <<< "${PYTEST_ARGS:-}"

# The interpreter for version $1 (e.g. 3.12), or nothing.
find_python() {
    local v="$1" py ver root
    if py="$(command -v "python$v" 2>/dev/null)" \
            && [ "$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$v" ]; then
        echo "$py"
        return
    fi
    if command -v pyenv >/dev/null 2>&1; then
        ver="$(pyenv versions --bare --skip-aliases 2>/dev/null | grep -E "^$v\.[0-9]+$" \
               | sort -t. -k3,3n | tail -n 1)"
        root="$(pyenv root 2>/dev/null)"
        if [ -n "$ver" ] && [ -x "$root/versions/$ver/bin/python$v" ]; then
            echo "$root/versions/$ver/bin/python$v"
        fi
    fi
}

passed=() failed=() missing=()
for v in $VERSIONS; do
    py="$(find_python "$v")"
    if [ -z "$py" ]; then
        echo "== Python $v: not found (no python$v on PATH, no pyenv $v.x); skipped"
        missing+=("$v")
        continue
    fi
    venv=".venv-$v"
    echo "== Python $v: $py ($("$py" -c 'import sys; print(sys.version.split()[0])')) → $venv"
    if [ ! -x "$venv/bin/python" ]; then
        "$py" -m venv "$venv" || { failed+=("$v (venv)"); continue; }
    fi
    if [ ! -f "$venv/.installed" ] || [ pyproject.toml -nt "$venv/.installed" ]; then
        echo "   pip install -e \".[dev]\" into $venv (quiet)"
        if ! "$venv/bin/python" -m pip install --quiet --progress-bar off -e ".[dev]"; then
            failed+=("$v (pip install)")
            continue
        fi
        touch "$venv/.installed"
    fi
    if "$venv/bin/python" -m pytest "${PYTEST_ARGV[@]}"; then
        passed+=("$v")
    else
        failed+=("$v")
    fi
done

echo
echo "test-pythons: passed: ${passed[*]:-none}; failed: ${failed[*]:-none}; not found: ${missing[*]:-none}"
[ ${#failed[@]} -eq 0 ] && [ ${#passed[@]} -gt 0 ]
