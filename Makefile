# The toolkit's commands. The two a newcomer needs:
#   make site   install what is needed, bring up the lab, apply the registry to it,
#               then plan again (nothing left to change) and write the reports
#   make test   install what is needed, lint, ansible-test sanity, run every test
# Then, for a registry change:
#   make plan   what an apply would change (reports/plan.md), nothing changed
#   make plan-registry  the same for the registry's changes alone (DNS records,
#               mail accounts, blasts), in seconds; no server configuration
#               (also: make plan PART=registry)
#   make plan-readonly  the same for the registry's DNS records and mail accounts,
#               with read-only credentials and the plan vault password only
#   make site PLAN=reports/plan.json  apply exactly that reviewed plan, or nothing
#               (it plans again first and names what differs)
#   make report the reports for auditors and the mayor (reports/index.html)
SHELL := /bin/bash
VENV := .venv/bin
export PATH := $(CURDIR)/.venv/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export CONTAINERS_CONF := $(CURDIR)/lab/containers.conf
INVENTORY ?= inventory/lab
PYTEST_ARGS ?=
# Where the apply lock, the audit trail and the plan live (callback plugin apply_session).
STATE_DIR := $(or $(CITY_STATE_DIR),state)
PLAN_DIR := $(or $(CITY_PLAN_DIR),reports)
REPORT_DIR := reports

.PHONY: help install validate reference lab lab-stop lab-down site plan plan-registry plan-readonly report test lint sanity unit bench lab-image molecule

help:
	@sed -n 's/^#   //p' Makefile

install:
	@scripts/install-deps.sh

validate: install
	bin/registry-validate --inventory $(INVENTORY) --summary

# The auditors' field reference, generated from the JSON Schemas and city.yml.
reference: install
	bin/registry-reference --output docs/registry-reference.md

lab: install
	ansible-playbook -i $(INVENTORY) playbooks/lab.yml

lab-stop: install
	ansible-playbook -i $(INVENTORY) playbooks/lab.yml -e lab__state=stopped

lab-down: install
	ansible-playbook -i $(INVENTORY) playbooks/lab.yml -e lab__state=absent

# Apply, then plan again (it must say "no changes"), then the reports; each apply
# takes the lock and appends to the audit trail (docs/operations.md).
# make site PLAN=reports/plan.json applies exactly that reviewed plan or nothing:
# scripts/apply-reviewed plans again in a private directory, compares the two
# (bin/plan-check) and refuses, naming what differs, before anything is applied.
site: install
	@if [ "$(INVENTORY)" = inventory/lab ]; then ansible-playbook -i $(INVENTORY) playbooks/lab.yml; fi
	$(if $(PLAN),scripts/apply-reviewed --inventory '$(INVENTORY)' '$(PLAN)',ansible-playbook -i $(INVENTORY) playbooks/site.yml)
	ansible-playbook -i $(INVENTORY) playbooks/plan.yml --check --diff
	ansible-playbook -i $(INVENTORY) playbooks/report.yml
	@echo
	@echo "Plan (what is left to change):  $(PLAN_DIR)/plan.md and plan.json"
	@echo "Reports:                        $(REPORT_DIR)/index.html (HTML and CSV)"
	@echo "Audit trail:                    $(STATE_DIR)/audit-trail.jsonl"

# What an apply of the registry would change, as reports/plan.md and plan.json; changes nothing.
# make plan PART=registry is make plan-registry.
plan: install
	ansible-playbook -i $(INVENTORY) playbooks/plan.yml --check --diff $(if $(filter registry,$(PART)),--skip-tags city_server)

# The plan of the registry's changes alone: DNS records, mail accounts, unused-account
# warnings and blasts, the toolkit's modules in check mode; the roles' server
# configuration (tag city_server) is left out, and the plan says so at its top.
# Seconds instead of the full plan's half minute: for a merge request that changes a record.
plan-registry: install
	ansible-playbook -i $(INVENTORY) playbooks/plan.yml --check --diff --skip-tags city_server

# The plan of a merge request, whose code nobody has reviewed yet: the registry's DNS
# records and mail accounts, read with the transfer-only DNS key and the directory's
# reader; no server configuration, no blast. Needs only the vault password of the
# vault id plan (scripts/vault-client): every secret that can change a server stays
# encrypted, and using one fails (playbooks/plan.yml, examples/ci/README.md).
plan-readonly: install
	ansible-playbook -i $(INVENTORY) playbooks/plan.yml --check --diff \
	  -e city_plan__readonly=true --skip-tags city_server,city_sms_blast

# The reports for auditors and the mayor (D6, D9, E10, S7) in reports/ (docs/reports.md).
# Another year: make report YEAR=2025
report: install
	ansible-playbook -i $(INVENTORY) playbooks/report.yml $(if $(YEAR),-e report__year=$(YEAR))

lint: install
	yamllint --strict .
	ansible-lint --profile production

# ansible-test sanity (validate-modules, pylint, pep8, import, yamllint, ...) on the tree
# assembled as a collection in a temporary directory, offline on .venv's Python; the
# tests skipped and why: scripts/build-collection-sanity. One test: make sanity
# SANITY_ARGS='--test validate-modules'
sanity: install
	scripts/build-collection-sanity $(SANITY_ARGS)

unit: install
	pytest -q -m "not lab" $(PYTEST_ARGS)

test: install lint sanity molecule
	pytest -q $(PYTEST_ARGS)

# Every benchmark, each printing its table (about an hour: the mail one hashes
# 40,000 argon2 passwords). One alone: make bench BENCHES=bench/dns_bench.py
BENCHES ?= bench/validate_bench.py bench/dns_bench.py bench/mail_bench.py bench/handover_bench.py bench/sms_bench.py \
  bench/plan_bench.py bench/mail_delivery_bench.py
bench: install
	@rc=0; for b in $(BENCHES); do echo "== $$b"; python $$b || rc=1; done; exit $$rc

# The lab's base image only (built once; no containers, no secrets). The
# lab_hosts play is outside --limit localhost, so no lab host is needed.
lab-image: install
	ansible-playbook -i inventory/lab playbooks/lab.yml --limit localhost \
	  -e '{"lab__hosts": []}' -e lab__generate_secrets=false

# Molecule scenarios of the roles, on the lab's base image (podman, runc).
molecule: install lab-image
	cd roles/dns_server && molecule test
	cd roles/ldap_directory && molecule test
	cd roles/sms_gateway && molecule test
	cd roles/mail_server && molecule test
