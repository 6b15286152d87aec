.DEFAULT_GOAL := help
.PHONY: help install run test check format bench migrate worker

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-10s %s\n", $$1, $$2}'

install: ## install the locked dependencies into .venv
	uv sync --frozen

run: ## run the API on the embedded defaults (SQLite, memory limits, local backends)
	uv run astra serve

worker: ## run the background worker
	uv run astra worker

migrate: ## apply database migrations to ASTRA_DATABASE_URL
	uv run astra db upgrade

test: ## run the whole test suite (needs PostgreSQL and Redis on loopback)
	uv run pytest

check: ## lint, format check, type check and layer contracts
	uv run ruff check .
	uv run ruff format --check .
	uv run mypy .
	uv run lint-imports

format: ## apply ruff fixes and formatting
	uv run ruff check --fix .
	uv run ruff format .

bench: ## run the benchmarks (prints numbers; needs PostgreSQL and Redis)
	uv run python -m bench.run_all
