# reglab — 8장 정규화 (regularization) 재구성 / rebuild of chapter 8
#
# `make report`  설정 + 데이터 + 실행 + 보고서  (set-up, data, runs, report)
# `make test`    설정 + 테스트                  (set-up, tests)
# `make help`    모든 목표 보기                 (list every target)
#
# Needs only Python (3.11, 3.12 or 3.13) and make. The first call creates .venv and installs the
# package editable with its [dev] extras; pip runs again only when pyproject.toml
# is newer than the stamp file .venv/.installed.

PYTHON ?= python3
VENV   := .venv
VPY    := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# Extra arguments, e.g.  make test PYTEST_ARGS="-m slow -x"
PYTEST_ARGS ?=
BENCH_ARGS  ?=
LAB_ARGS    ?=

SHELL       := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules

# JupyterLab refuses to start as root without allow_root.
ifeq ($(shell id -u),0)
LAB_ROOT_FLAG := --ServerApp.allow_root=True
else
LAB_ROOT_FLAG :=
endif

RUN_HELP_FAILED_MSG := 실행 명령을 시작할 수 없습니다 — 설치를 확인하세요 (make setup) / the run command does not start: check the installation

.PHONY: help setup test test-pythons report study cluster-demo data lab bench clean

help:
	@echo "reglab — 8장 정규화 / chapter 8 regularization"
	@echo ""
	@echo "  make report   설정+데이터+실행+보고서 → reports/chapter8_report.html/.pdf"
	@echo "                (set-up, photos if missing, runs, report)"
	@echo "  make study    반복 실험+보고서 → reports/study_report.html/.pdf"
	@echo "                (python -m reglab study: seeds, 40 epochs, ablation; resumable)"
	@echo "  make cluster-demo  Dask 스케줄러+워커 2개(127.0.0.1)로 작은 study 실행 후 정리"
	@echo "                (local Dask scheduler + two workers, a small study through them, stop)"
	@echo "  make test     설정+테스트 (set-up, then pytest; PYTEST_ARGS=... adds arguments)"
	@echo "  make test-pythons  Python 3.11, 3.12, 3.13 중 있는 것마다 .venv-3.X 에서 테스트"
	@echo "                (the tests on each of python3.11/3.12/3.13 found, incl. pyenv's)"
	@echo "  make data     사진 받기 (python -m reglab data fetch → data/flowers)"
	@echo "  make lab      JupyterLab on notebooks/"
	@echo "  make bench    benchmarks/bench_models.py (if present; BENCH_ARGS=...)"
	@echo "  make setup    .venv only (created/updated as needed)"
	@echo "  make clean    build artefacts + .venv stamp (keeps .venv, data/, reports/)"
	@echo ""
	@echo "  PYTHON=$(PYTHON)  FLOWERS_DIR=$${FLOWERS_DIR:-<unset: data/flowers>}"

# --- set-up -------------------------------------------------------------------
# A real file target: the venv is created once, not on every call.
$(VENV)/pyvenv.cfg:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when pyproject.toml is newer than the stamp.
$(STAMP): pyproject.toml | $(VENV)/pyvenv.cfg
	@echo "pip install -e \".[dev]\" into $(VENV) (quiet; about a minute the first time)"
	$(VPY) -m pip install --quiet --progress-bar off -e ".[dev]"
	touch $@

setup: $(STAMP)

# --- tests --------------------------------------------------------------------
# pytest's own exit status is the recipe's status: failures (1) and
# "no tests collected" (5) both make `make test` fail.
test: $(STAMP)
	$(VPY) -m pytest $(PYTEST_ARGS)

# The same tests on every supported Python found (python3.X on PATH, else pyenv's newest 3.X),
# each in its own .venv-3.X. TEST_PYTHONS="3.12" picks versions; PYTEST_ARGS as for `test`.
TEST_PYTHONS ?= 3.11 3.12 3.13
test-pythons:
	TEST_PYTHONS="$(TEST_PYTHONS)" PYTEST_ARGS="$(PYTEST_ARGS)" bash tools/test-pythons.sh

# --- report -------------------------------------------------------------------
# 1. `reglab run --help` must work (else: what it printed, exit 2);
# 2. photos: FLOWERS_DIR if set, else data/flowers, else fetch them;
# 3. run the experiments, then render the report.
report: $(STAMP)
	@if ! out="$$($(VPY) -m reglab run --help 2>&1)"; then \
	    echo "$(RUN_HELP_FAILED_MSG)" >&2; \
	    echo "  ('$(VPY) -m reglab run --help' failed:)" >&2; \
	    printf '%s\n' "$$out" | tail -n 5 | sed 's/^/    /' >&2; \
	    exit 2; \
	fi
	@if [ -n "$${FLOWERS_DIR:-}" ]; then \
	    echo "사진 폴더 / photos: FLOWERS_DIR=$$FLOWERS_DIR"; \
	    [ -d "$$FLOWERS_DIR" ] || echo "경고 / warning: FLOWERS_DIR=$$FLOWERS_DIR is not a folder" >&2; \
	elif [ -d data/flowers ] && [ -n "$$(ls -A data/flowers)" ]; then \
	    echo "사진 폴더 / photos: data/flowers"; \
	else \
	    echo "사진이 없어 내려받습니다 / no photos found, fetching them into data/flowers"; \
	    $(VPY) -m reglab data fetch; \
	fi
	$(VPY) -m reglab run
	$(VPY) -m reglab report

# --- study --------------------------------------------------------------------
# Repeated runs (resumable: finished runs are skipped), then the study report.
study: $(STAMP)
	$(VPY) -m reglab study
	$(VPY) -m reglab report --study

# --- cluster demo -------------------------------------------------------------
# A scheduler and two workers on 127.0.0.1, a small study through them (--scheduler), then
# stopped, also on failure. DEMO_ARGS=... changes the study, DEMO_OUT=... keeps the results.
cluster-demo: $(STAMP)
	VPY=$(VPY) bash tools/cluster-demo.sh

# --- other targets ------------------------------------------------------------
data: $(STAMP)
	$(VPY) -m reglab data fetch

# Its settings (lib/reglab/classroom/lab-settings/overrides.json) send widget messages to the
# kernel's main shell (commsOverSubshells "disabled"): a click waits for the running cell.
lab: $(STAMP)
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=notebooks \
	    --LabApp.app_settings_dir=lib/reglab/classroom/lab-settings $(LAB_ROOT_FLAG) $(LAB_ARGS)

bench: $(STAMP)
	@if [ -f benchmarks/bench_models.py ]; then \
	    echo "$(VPY) benchmarks/bench_models.py $(BENCH_ARGS)"; \
	    $(VPY) benchmarks/bench_models.py $(BENCH_ARGS); \
	else \
	    echo "benchmarks/bench_models.py 가 아직 없습니다 / not present yet — nothing to run"; \
	fi

# Never touches data/ or reports/; keeps .venv and .venv-3.X themselves (only their stamps go).
clean:
	rm -rf build dist .pytest_cache lib/*.egg-info
	find . \( -path './$(VENV)*' -o -path ./.git -o -path ./data -o -path ./reports \) -prune \
	    -o -type d \( -name __pycache__ -o -name .ipynb_checkpoints \) -print0 | xargs -0 -r rm -rf
	rm -f $(STAMP) $(VENV)-3.*/.installed
