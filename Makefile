# Two commands for a newcomer (see README.md): `make demo` and `make test`.
# Needs Python 3.11+, git and make; uv is installed into .cache/ when it is not on PATH.
SHELL := /bin/bash
.DEFAULT_GOAL := help
BOOTSTRAP := $(CURDIR)/.cache/bootstrap
export PATH := $(BOOTSTRAP)/bin:$(PATH)
DEMO := $(CURDIR)/out/demo-model
DEMO_GIT := git -c user.name=Demo -c user.email=demo@example.com
# One header line per step of the demo, then the step: a target of the generated project's Makefile, run silently.
demo_step = @echo "--- $(1)" && $(MAKE) -s --no-print-directory -C $(DEMO) $(2)

.PHONY: help uv dev demo test test-fast

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

uv: ## make sure uv is available (installs it into .cache/bootstrap if it is not on PATH)
	@command -v uv >/dev/null || { python3 -m venv $(BOOTSTRAP) && $(BOOTSTRAP)/bin/pip install --quiet uv; }

dev: uv ## install the template's development tools into .venv
	uv sync --locked --quiet

demo: export MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR := false
demo: dev ## generate a project with defaults into out/demo-model and run its lifecycle: pipeline, MLflow, gate, Bento, drift
	@echo "--- generate: cookiecutter --no-input . -o $(dir $(DEMO))"
	@rm -rf $(DEMO)
	@uv run cookiecutter --no-input . -o $(dir $(DEMO)) >/dev/null
	@cd $(DEMO) && $(DEMO_GIT) add -A && $(DEMO_GIT) commit -qm "Generated from the template"
	@echo "--- setup: uv sync"
	@cd $(DEMO) && uv sync --quiet
	@echo "--- pipeline: dvc repro"
	@cd $(DEMO) && uv run dvc repro
	@echo "--- commit: uv.lock, dvc.lock, metrics and plots, so that make metrics-diff and report have a base"
	@cd $(DEMO) && $(DEMO_GIT) add -A && $(DEMO_GIT) commit -qm "Pipeline results of the demo"
	$(call demo_step,metrics: dvc metrics show,metrics)
	$(call demo_step,MLflow runs: demo_model runs,runs)
	$(call demo_step,registry: demo_model register,register)
	$(call demo_step,gate: demo_model promote,promote)
	$(call demo_step,registered versions: demo_model show,models)
	$(call demo_step,Bento: demo_model bento,bento)
	@echo "--- simulate: held-out rows with worst_radius and mean_texture shifted by 1 sd"
	@cd $(DEMO) && uv run demo_model simulate --shift worst_radius:mean=1 --shift mean_texture:mean=1
	@echo "--- drift: demo_model drift --current data/simulated/current.csv"
	@cd $(DEMO) && { uv run demo_model drift --current data/simulated/current.csv; test $$? -le 1; }  # 1 means drift: a finding
	@echo "--- drift summary: reports/drift/drift.md"
	@cat $(DEMO)/reports/drift/drift.md
	@echo "Done: the project is in $(DEMO), committed; 'make serve' there serves the champion at http://127.0.0.1:3000."

test: dev ## every test tier: render and hooks, generated projects, workflows under act (two workers)
	uv run pytest -n 2 --dist loadscope --no-loadscope-reorder --durations=30

test-fast: dev ## the fast tier only: rendering and hooks
	uv run pytest -m "not slow and not workflow"
