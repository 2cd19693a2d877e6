# Two commands for a newcomer (see README.md): `make demo` and `make test`.
# Needs Python 3.11+, git and make; uv is installed into .cache/ when it is not on PATH.
SHELL := /bin/bash
.DEFAULT_GOAL := help
BOOTSTRAP := $(CURDIR)/.cache/bootstrap
export PATH := $(BOOTSTRAP)/bin:$(PATH)
DEMO := $(CURDIR)/out/demo-model

.PHONY: help uv dev demo test test-fast

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

uv: ## make sure uv is available (installs it into .cache/bootstrap if it is not on PATH)
	@command -v uv >/dev/null || { python3 -m venv $(BOOTSTRAP) && $(BOOTSTRAP)/bin/pip install --quiet uv; }

dev: uv ## install the template's development tools into .venv
	uv sync --locked --quiet

demo: dev ## generate a project with defaults into out/demo-model and run its lifecycle: pipeline, MLflow, gate, Bento, drift
	rm -rf $(DEMO)
	uv run cookiecutter --no-input . -o $(dir $(DEMO))
	cd $(DEMO) && git add -A && git -c user.name=Demo -c user.email=demo@example.com commit -qm "generated"
	cd $(DEMO) && $(MAKE) --no-print-directory setup repro metrics runs register promote models bento
	@echo "--- the drift check on production-like data: held-out rows with worst_radius and mean_texture shifted by 1 sd"
	cd $(DEMO) && uv run demo_model simulate --shift worst_radius:mean=1 --shift mean_texture:mean=1
	cd $(DEMO) && { uv run demo_model drift --current data/simulated/current.csv; test $$? -le 1; }  # 1 means drift: a finding
	cat $(DEMO)/reports/drift/drift.md
	@echo "Done: the project is in $(DEMO); 'make serve' there serves the champion at http://127.0.0.1:3000."

test: dev ## every test tier: render and hooks, generated projects, workflows under act (two workers)
	uv run pytest -n 2 --dist loadscope

test-fast: dev ## the fast tier only: rendering and hooks
	uv run pytest -m "not slow and not workflow"
