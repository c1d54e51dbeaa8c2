# -*- coding: utf-8 -*-
# Copyright: Tabiri Homelab
# Mozilla Public License 2.0 (see https://mozilla.org/MPL/2.0/)
"""Action plugin for tabiri.homelab.prometheus_target: runs the module binary built for the target's CPU."""

from __future__ import annotations

from ansible_collections.tabiri.homelab.plugins.plugin_utils.arch_dispatch import ArchDispatchAction


class ActionModule(ArchDispatchAction):
    """tabiri.homelab.prometheus_target; see plugins/plugin_utils/arch_dispatch.py."""
