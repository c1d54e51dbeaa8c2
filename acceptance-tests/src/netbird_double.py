"""A test double of NetBird's management service for the acceptance tests: no management server
can run on the test machines (TESTBED.md), so this stands in for its REST API and, privately, for
the gRPC Login/Sync/Logout the agent uses.

    python netbird_double.py --host 10.199.3.1 --port 33073 --spec acceptance-tests/specs/netbird-openapi.yml

Prints one JSON line {"url", "token", "domain"} once it listens, then answers each JSON command
line on stdin with one JSON line on stdout, {"ok": result} or {"error": text} (the control
channel, see `Control`). Exits when stdin closes, so it never outlives the test process.

Conformance. Every request to /api/... and every answer is checked against NetBird's published
OpenAPI 3.1 description (read from --spec, the unmodified file): the operation found by path
template and method, its path and query parameters, its JSON request body (a body where none is
described, or a missing required one, is a violation too) and the answer's body against the
schema listed for its status. A request that does not match is answered 400 with
`{"message": "request does not match the API description: <where>: <reason>", "code": 400}` and
recorded; an answer that does not match is still sent (it is a bug in this double) and recorded.
The recorded violations are what `NetbirdDouble::assert_conforms` fails on.

Behaviour follows the management server's HTTP handlers and account manager (netbirdio/netbird,
management/server/http/handlers/* and management/server/{group,setupkey,policy,route,peer}.go),
not only the description: its error types and their status codes (InvalidArgument 422,
AlreadyExists 409, NotFound 404, PreconditionFailed 412, PermissionDenied 403, Unauthorized 401,
BadRequest 400, TooManyRequests 429), its messages, lowercased where the server sends them through
util.WriteError and as they are where it uses util.WriteErrorResponse (unparsable JSON, refused
group deletions), its defaults and its quirks (noted where they are implemented).

The agent channel (POST /__agent/login, /__agent/sync, /__agent/down, /__agent/deregister) is
private to netbird_agent.py and stands in for the gRPC service; it is not part of the REST API,
so it is neither validated nor recorded, and it follows the gRPC server's mapping of errors
(NotFound, PermissionDenied, FailedPrecondition) rather than HTTP's.

Deviations from the published description (the double follows the server, whose source shows
each; the description file itself is not changed, the schemas are relaxed in memory):
1. Error answers on every operation. Every handler answers failures through util.WriteError or
   util.WriteErrorResponse with `{"message", "code"}` and 400, 401, 403, 404, 409, 412, 422, 429
   or 500, but most operations list only some of these (POST /api/policies lists only 200; a
   well-formed but unknown token even gets 404, the status of the PAT lookup it wraps). Those
   statuses are accepted on every operation, their bodies checked against ErrorResponse.
2. Group `peers` and `resources` are null, not [], when empty: toGroupResponse appends to nil
   slices and Go encodes a nil slice as null.
3. Policy `source_posture_checks` is null when the request had none: the handler stores the
   request's nil slice as it is.
4. Policy rule `sources` and `destinations` are null when no group is left to show:
   toPolicyResponse drops unknown group IDs and, in `sources` only, every group it has already
   seen earlier in the same policy (its cache), so a second rule reusing a group answers null.
5. Route `domains` is null for network routes (ToStringList of an empty list), in answers only.
6. RouteRequest lists `id` as required without defining it; the server's request type
   (api.RouteRequest) has no id and ignores one, so requests need none.
7. (Not about the description.) 429 answers carry `Retry-After: 1`: the server's rate limiter
   sends no such header; the double adds one so clients can be tested on honouring it.
"""

import argparse
import base64
import copy
import datetime
import hashlib
import ipaddress
import json
import random
import re
import socket
import string
import sys
import threading
import urllib.parse
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_URN = 'urn:netbird-api'
DNS_DOMAIN = 'netbird.selfhosted'  # the server's default for self-hosted installs
ZERO_TIME = '0001-01-01T00:00:00Z'  # how Go encodes time.Time{}
# The statuses util.WriteError / WriteErrorResponse produce (deviation 1).
SERVER_ERROR_STATUSES = {400, 401, 403, 404, 409, 412, 422, 429, 500}
ERROR_SCHEMA = '/components/schemas/ErrorResponse'

ERROR_STATUS = {
    'InvalidArgument': 422, 'AlreadyExists': 409, 'NotFound': 404, 'PreconditionFailed': 412,
    'PermissionDenied': 403, 'Unauthorized': 401, 'BadRequest': 400, 'TooManyRequests': 429,
    'Internal': 500,
}


class ApiError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def status_error(kind, message):
    """An error the server answers through util.WriteError, which lowercases the message."""
    return ApiError(ERROR_STATUS[kind], message.lower())


def raw_error(status, message):
    """An error the server answers through util.WriteErrorResponse, message as it is."""
    return ApiError(status, message)


class AgentError(Exception):
    """A refusal on the agent channel, with the gRPC code the server's mapError would use."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


# ---------------------------------------------------------------------------------------------
# The description and its validation


def _json_model(value):
    """YAML to the JSON data model: string keys (response codes may load as ints) and no dates
    (unquoted examples load as datetime objects)."""
    if isinstance(value, dict):
        return {str(k): _json_model(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_model(v) for v in value]
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


def _escape(token):
    return token.replace('~', '~0').replace('/', '~1')


def _at(doc, pointer):
    node = doc
    for part in pointer.lstrip('/').split('/'):
        part = part.replace('~1', '/').replace('~0', '~')
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _nullable(node):
    kind = node.get('type')
    if isinstance(kind, str):
        node['type'] = [kind, 'null']


def apply_deviations(doc):
    """Relaxes the in-memory description where the server differs (module docstring, 2-6)."""
    schemas = doc['components']['schemas']
    # 6: nothing to send for an `id` the request type does not have.
    route_request = schemas['RouteRequest']
    route_request['required'] = [r for r in route_request['required'] if r != 'id']
    # 2-4: nil slices encoded as null, in answers only (these schemas are answer-only).
    group = schemas['Group']['allOf'][1]['properties']
    _nullable(group['peers'])
    _nullable(group['resources'])
    _nullable(schemas['Policy']['allOf'][1]['properties']['source_posture_checks'])
    rule = schemas['PolicyRule']['allOf'][1]['properties']
    _nullable(rule['sources'])
    _nullable(rule['destinations'])
    # 5: Route shares RouteRequest with requests; give answers their own copy.
    route = schemas['Route']['allOf']
    for i, part in enumerate(route):
        if part.get('$ref') == '#/components/schemas/RouteRequest':
            answer = copy.deepcopy(route_request)
            _nullable(answer['properties']['domains'])
            route[i] = answer


class Spec:
    def __init__(self, path):
        loader = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)
        with open(path) as f:
            doc = _json_model(yaml.load(f, Loader=loader))
        apply_deviations(doc)
        self.doc = doc
        self.registry = Registry().with_resource(
            SPEC_URN, Resource.from_contents(doc, default_specification=DRAFT202012))
        self._validators = {}
        self.templates = []
        for template, item in doc['paths'].items():
            parts = template.strip('/').split('/')
            regex = '^/' + '/'.join(
                '(?P<%s>[^/]+)' % _group_name(p) if p.startswith('{') else re.escape(p) for p in parts) + '$'
            literal = sum(1 for p in parts if not p.startswith('{'))
            names = [p[1:-1] for p in parts if p.startswith('{')]
            self.templates.append((-literal, template, re.compile(regex), names, item))
        # Literal segments win over parameters (`/api/peers/edr/bypassed` before `/api/peers/{id}/...`).
        self.templates.sort(key=lambda t: (t[0], t[1]))

    def validator(self, pointer):
        v = self._validators.get(pointer)
        if v is None:
            v = Draft202012Validator({'$ref': SPEC_URN + '#' + pointer}, registry=self.registry,
                                     format_checker=Draft202012Validator.FORMAT_CHECKER)
            self._validators[pointer] = v
        return v

    def errors(self, pointer, instance, where):
        """The best-matching validation error of `instance` against the schema at `pointer`, as
        `where.field: reason`, or None."""
        error = best_match(self.validator(pointer).iter_errors(instance))
        if error is None:
            return None
        loc = where
        for part in error.absolute_path:
            loc += '[%d]' % part if isinstance(part, int) else '.%s' % part
        return '%s: %s' % (loc, error.message)

    def resolve(self, node, pointer):
        """Follows a local $ref (parameters, request bodies, responses): (node, its pointer)."""
        while isinstance(node, dict) and isinstance(node.get('$ref'), str) and node['$ref'].startswith('#/'):
            pointer = node['$ref'][1:]
            node = _at(self.doc, pointer)
        return node, pointer

    def find(self, method, path):
        """(template, operation pointer, operation, path parameters, parameter list) or None."""
        for _, template, regex, names, item in self.templates:
            m = regex.match(path)
            if not m or method.lower() not in item:
                continue
            op_pointer = '/paths/%s/%s' % (_escape(template), method.lower())
            params = {}
            for base, source in (('/paths/%s/parameters' % _escape(template), item.get('parameters', [])),
                                 (op_pointer + '/parameters', item[method.lower()].get('parameters', []))):
                for i, raw in enumerate(source):
                    param, pointer = self.resolve(raw, '%s/%d' % (base, i))
                    params[(param['name'], param['in'])] = (param, pointer)
            values = {name: urllib.parse.unquote(m.group(_group_name('{%s}' % name))) for name in names}
            return template, op_pointer, item[method.lower()], values, params
        return None

    def check_request(self, method, path, query, content_type, raw_body):
        """Problems with a request (strings) and its decoded JSON body (None when absent)."""
        found = self.find(method, path)
        if found is None:
            return None, ['%s %s is not an operation of the API description' % (method, path)], None
        template, op_pointer, op, path_values, params = found
        problems = []
        for name, value in path_values.items():
            param = params.get((name, 'path'))
            if param and 'schema' in param[0]:
                problem = self.errors(param[1] + '/schema', value, 'path.' + name)
                if problem:
                    problems.append(problem)
        seen = set()
        for name, value in query:
            seen.add(name)
            param = params.get((name, 'query'))
            if param is None:
                problems.append('query.%s: not a parameter of %s %s' % (name, method, template))
                continue
            schema = param[0].get('schema', {})
            problem = self.errors(param[1] + '/schema', _coerce_query(value, schema), 'query.' + name)
            if problem:
                problems.append(problem)
        for (name, where), (param, _) in params.items():
            if where == 'query' and param.get('required') and name not in seen:
                problems.append('query.%s: a required parameter is missing' % name)
        body = None
        request_body = None
        if 'requestBody' in op:
            request_body, rb_pointer = self.resolve(op['requestBody'], op_pointer + '/requestBody')
        if not raw_body:
            if request_body is not None and request_body.get('required'):
                problems.append('body: a request body is required')
        elif request_body is None:
            problems.append('body: %s %s takes no request body' % (method, template))
        else:
            if not (content_type or '').split(';')[0].strip().lower() == 'application/json':
                problems.append('body: content type %r is not described (application/json is)' % content_type)
            try:
                body = json.loads(raw_body)
            except ValueError as e:
                problems.append('body: not JSON (%s)' % e)
                return found, problems, None
            media = request_body.get('content', {}).get('application/json')
            if media is None:
                problems.append('body: %s %s describes no JSON body' % (method, template))
            elif 'schema' in media:
                problem = self.errors(rb_pointer + '/content/application~1json/schema', body, 'body')
                if problem:
                    problems.append(problem)
        return found, problems, body

    def check_response(self, operation, status, body):
        """Problems with an answer (strings); `operation` is what `find` returned."""
        op_pointer, op = operation[1], operation[2]
        responses = op.get('responses', {})
        key = str(status) if str(status) in responses else ('default' if 'default' in responses else None)
        if key is None:
            if status in SERVER_ERROR_STATUSES:  # deviation 1
                problem = self.errors(ERROR_SCHEMA, body, 'body')
                return [problem] if problem else []
            return ['status %d is not described for this operation' % status]
        response, pointer = self.resolve(responses[key], op_pointer + '/responses/' + _escape(key))
        media = response.get('content', {}).get('application/json')
        if media is not None and 'schema' in media:
            problem = self.errors(pointer + '/content/application~1json/schema', body, 'body')
        elif status >= 400:
            problem = self.errors(ERROR_SCHEMA, body, 'body')
        else:
            problem = None
        return [problem] if problem else []


def _group_name(segment):
    return 'p_' + re.sub(r'\W', '_', segment.strip('{}'))


def _coerce_query(value, schema):
    """Query values arrive as text; typed parameters are checked as the value they spell."""
    kind = schema.get('type')
    try:
        if kind == 'integer':
            return int(value)
        if kind == 'number':
            return float(value)
    except ValueError:
        return value
    if kind == 'boolean' and value in ('true', 'false'):
        return value == 'true'
    return value


# ---------------------------------------------------------------------------------------------
# Small facts the server's types encode

def new_id():
    """An ID shaped like the server's xid ones (20 characters of base32hex, lowercase)."""
    return base64.b32hexencode(random.getrandbits(96).to_bytes(12, 'big')).decode().lower()[:20]


BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def base62(n):
    out = ''
    while n:
        n, r = divmod(n, 62)
        out = BASE62[r] + out
    return out or '0'


def new_pat():
    """A personal access token as the server makes them: nbp_, 30 random characters and the
    CRC32 of those in base62, zero-padded to 6."""
    secret = ''.join(random.SystemRandom().choice(string.ascii_letters + string.digits) for _ in range(30))
    return 'nbp_' + secret + base62(zlib.crc32(secret.encode())).rjust(6, '0')


def pat_checksum_ok(token):
    secret, check = token[4:34], token[34:]
    value = 0
    for ch in check:
        if ch not in BASE62:
            return False
        value = value * 62 + BASE62.index(ch)
    return value == zlib.crc32(secret.encode())


def go_time(moment):
    """time.Time as Go's JSON encoder writes it (RFC 3339, trailing zeros of the fraction cut)."""
    if moment is None:
        return ZERO_TIME
    text = moment.strftime('%Y-%m-%dT%H:%M:%S')
    if moment.microsecond:
        text += '.' + ('%06d' % moment.microsecond).rstrip('0')
    return text + 'Z'


def parsed_label(name):
    """The first DNS label of a name as the server derives peer labels (dns.GetParsedDomainLabel)."""
    labels = [l for l in name.split('.') if l != ''] if name not in ('', '.') else []
    if not labels:
        raise ValueError('got empty label list for name "%s"' % name)
    raw = labels[0]
    ascii_label = raw if raw.isascii() else 'xn--' + raw.encode('punycode').decode()
    valid = re.sub(r'[^a-zA-Z0-9-]+', '-', ascii_label).lower()
    return valid[:59] if len(valid) > 58 else valid


def ip_label(ip, hostname):
    """The label of a colliding or ephemeral peer: `<label>-<third octet>-<fourth octet>`."""
    b = [int(x) for x in ip.split('.')]
    return '%s-%d-%d' % (parsed_label(hostname), b[2], b[3])


def like(pattern, value):
    """SQL LIKE '%pattern%' as the default SQLite store runs it: `%` and `_` are wildcards and
    ASCII letters match regardless of case."""
    regex = ''.join('.*' if c == '%' else '.' if c == '_' else re.escape(c) for c in pattern)
    return re.search(regex, value, re.IGNORECASE | re.ASCII | re.DOTALL) is not None


DOMAIN_REGEX = re.compile(
    r'^(?:\*\.)?(?:(?:xn--)?[a-zA-Z0-9_](?:[a-zA-Z0-9-_]{0,61}[a-zA-Z0-9])?\.)*'
    r'(?:xn--)?[a-zA-Z0-9](?:[a-zA-Z0-9-_]{0,61}[a-zA-Z0-9])?$')


def parse_prefix(text):
    """netip.ParsePrefix then Masked: (network text, 'IPv4' | 'IPv6') or ValueError."""
    m = re.match(r'^([^/]+)/(\d{1,3})$', text)
    if not m:
        raise ValueError(text)
    addr = ipaddress.ip_address(m.group(1))
    bits = int(m.group(2))
    if bits > addr.max_prefixlen or '%' in m.group(1):
        raise ValueError(text)
    net = ipaddress.ip_network('%s/%d' % (addr, bits), strict=False)
    return str(net), ('IPv6' if net.version == 6 else 'IPv4')


# ---------------------------------------------------------------------------------------------
# The account

class Account:
    """One NetBird account, seeded as the server seeds a new one (newAccountWithId/AddAllGroup):
    group All and policy Default (All to All, accept, bidirectional, all protocols)."""

    def __init__(self, clock):
        self.clock = clock
        self.domain = DNS_DOMAIN
        # NewNetwork: a random /16 out of 100.64.0.0/10, and a random ULA /64 for IPv6.
        self.net_b = random.randint(64, 127)
        self.network = '100.%d.0.0/16' % self.net_b
        self.net_v6 = ipaddress.ip_network(((0xfd << 120) | (random.getrandbits(56) << 64), 64))
        self.groups = {}
        self.policies = {}
        self.setup_keys = {}
        self.routes = {}
        self.peers = {}
        self.used_ips = set()
        self.used_ipv6 = set()
        self.hide_enrolments = False
        all_group = {'id': new_id(), 'name': 'All', 'peers': [], 'issued': 'api'}
        self.groups[all_group['id']] = all_group
        self.all_id = all_group['id']
        policy_id = new_id()
        default = 'This is a default rule that allows connections between all the resources'
        self.policies[policy_id] = {
            'id': policy_id, 'name': 'Default', 'description': default, 'enabled': True,
            'source_posture_checks': None,
            'rules': [{
                'id': policy_id, 'name': 'Default', 'description': default, 'enabled': True,
                'action': 'accept', 'bidirectional': True, 'protocol': 'all',
                'sources': [all_group['id']], 'destinations': [all_group['id']],
                'ports': [], 'port_ranges': [], 'authorized_groups': {},
            }],
        }

    # -- views, as the handlers build them

    def visible_peers(self):
        return [p for p in self.peers.values() if not p['hidden']]

    def group_view(self, g):
        peers = []
        for pid in dict.fromkeys(g['peers']):
            p = self.peers.get(pid)
            if p and not p['hidden']:
                peers.append({'id': p['id'], 'name': p['name']})
        return {'id': g['id'], 'name': g['name'], 'issued': g['issued'], 'peers': peers or None,
                'peers_count': len(peers), 'resources': None, 'resources_count': 0}

    def group_minimum(self, g):
        return {'id': g['id'], 'name': g['name'], 'peers_count': len(g['peers']), 'resources_count': 0}

    def setup_key_view(self, k, clear=False):
        now = self.clock.now()
        expired = k['expires_at'] is not None and now > k['expires_at']
        limit = 1 if k['type'] == 'one-off' else k['usage_limit']
        overused = limit > 0 and k['used_times'] >= limit
        state = 'expired' if expired else 'revoked' if k['revoked'] else 'overused' if overused else 'valid'
        return {
            'id': k['id'],
            # HiddenKey(key, 4): the first five characters and four stars, except right after creation.
            'key': k['key'] if clear else k['key'][:5] + '****',
            'name': k['name'], 'expires': go_time(k['expires_at']), 'type': k['type'],
            'valid': not (k['revoked'] or expired or overused), 'revoked': k['revoked'],
            'used_times': k['used_times'], 'last_used': go_time(k['last_used']), 'state': state,
            'auto_groups': list(k['auto_groups']), 'updated_at': go_time(k['updated_at']),
            'usage_limit': k['usage_limit'], 'ephemeral': k['ephemeral'],
            'allow_extra_dns_labels': k['allow_extra_dns_labels'],
        }

    def policy_view(self, p):
        seen = {}
        rules = []
        for r in p['rules']:
            sources = []
            for gid in r['sources']:
                if gid in seen:
                    # toPolicyResponse skips a source group already seen in this policy (deviation 4).
                    continue
                g = self.groups.get(gid)
                if g:
                    m = {'id': g['id'], 'name': g['name'], 'peers_count': len(g['peers']), 'resources_count': 0}
                    sources.append(m)
                    seen[gid] = m
            destinations = []
            for gid in r['destinations']:
                if gid in seen:
                    destinations.append(seen[gid])
                    continue
                g = self.groups.get(gid)
                if g:
                    m = self.group_minimum(g)
                    destinations.append(m)
                    seen[gid] = m
            rule = {'id': r['id'], 'name': r['name'], 'description': r['description'], 'enabled': r['enabled'],
                    'action': r['action'], 'bidirectional': r['bidirectional'], 'protocol': r['protocol'],
                    'sources': sources or None, 'destinations': destinations or None}
            if r['ports']:
                rule['ports'] = list(r['ports'])
            if r['port_ranges']:
                rule['port_ranges'] = [dict(x) for x in r['port_ranges']]
            if r['authorized_groups']:
                rule['authorized_groups'] = copy.deepcopy(r['authorized_groups'])
            rules.append(rule)
        checks = p['source_posture_checks']
        return {'id': p['id'], 'name': p['name'], 'description': p['description'], 'enabled': p['enabled'],
                'source_posture_checks': list(checks) if checks is not None else None, 'rules': rules}

    def route_view(self, r):
        view = {
            'id': r['id'], 'network_id': r['network_id'], 'description': r['description'],
            'enabled': r['enabled'], 'peer': r['peer'], 'network': r['network'],
            'domains': list(r['domains']) if r['domains'] else None, 'network_type': r['network_type'],
            'masquerade': r['masquerade'], 'metric': r['metric'], 'groups': list(r['groups']),
            'keep_route': r['keep_route'], 'skip_auto_apply': r['skip_auto_apply'],
        }
        if r['peer_groups']:
            view['peer_groups'] = list(r['peer_groups'])
        if r['access_control_groups']:
            view['access_control_groups'] = list(r['access_control_groups'])
        return view

    def peer_view(self, p, batch=False):
        groups = [self.group_minimum(g) for g in self.groups.values() if p['id'] in g['peers']]
        meta = p['meta']
        view = {
            'id': p['id'], 'name': p['name'], 'created_at': go_time(p['created_at']), 'ip': p['ip'],
            'connection_ip': p['connection_ip'], 'connected': p['connected'],
            'last_seen': go_time(p['last_seen']),
            'os': '%s %s' % (meta.get('os', ''), meta.get('os_version', '')),
            'kernel_version': meta.get('kernel_version', ''), 'geoname_id': 0,
            'version': meta.get('version', ''), 'groups': groups, 'ssh_enabled': p['ssh_enabled'],
            'user_id': '', 'hostname': meta.get('hostname', ''), 'ui_version': meta.get('ui_version', ''),
            'dns_label': p['dns_label'] + '.' + self.domain, 'extra_dns_labels': [],
            'login_expiration_enabled': p['login_expiration_enabled'], 'login_expired': False,
            'last_login': go_time(p['last_login']),
            'inactivity_expiration_enabled': p['inactivity_expiration_enabled'],
            'approval_required': False, 'country_code': '', 'city_name': '', 'serial_number': '',
            'ephemeral': p['ephemeral'],
            'local_flags': {f: False for f in (
                'rosenpass_enabled', 'rosenpass_permissive', 'server_ssh_allowed', 'disable_client_routes',
                'disable_server_routes', 'disable_dns', 'disable_firewall', 'block_lan_access',
                'block_inbound', 'lazy_connection_enabled')},
        }
        if p['ipv6']:
            view['ipv6'] = p['ipv6']
        if batch:
            view['accessible_peers_count'] = 0
        return view

    def listing(self):
        """Everything as the API lists it."""
        return {
            'groups': [self.group_view(g) for g in self.groups.values()],
            'policies': [self.policy_view(p) for p in self.policies.values()],
            'setup_keys': [self.setup_key_view(k) for k in self.setup_keys.values()],
            'routes': [self.route_view(r) for r in self.routes.values()],
            'peers': [self.peer_view(p, batch=True) for p in self.visible_peers()],
        }

    # -- lookups

    def group(self, gid):
        g = self.groups.get(gid)
        if g is None:
            raise status_error('NotFound', 'group: %s not found' % gid)
        return g

    def peer(self, pid):
        p = self.peers.get(pid)
        if p is None or p['hidden']:
            raise status_error('NotFound', 'peer not found: %s' % pid)
        return p

    def _known_peer_ids(self, ids):
        # Membership of peers the account does not have is dropped: what the store keeps of them
        # depends on its engine, and no answer shows them.
        return [i for i in dict.fromkeys(ids) if i in self.peers and not self.peers[i]['hidden']]

    # -- groups (groups_handler.go, group.go)

    def list_groups(self, query):
        name = query.get('name', '')
        if name:
            matches = [g for g in self.groups.values() if g['name'] == name]
            if not matches:
                raise status_error('NotFound', 'group: %s not found' % name)
            # GetGroupByName: the one with the most peers.
            best = max(matches, key=lambda g: len(g['peers']))
            return [self.group_view(best)]
        return [self.group_view(g) for g in self.groups.values()]

    def create_group(self, body):
        if body['name'] == '':
            raise status_error('InvalidArgument', "group name shouldn't be empty")
        if any(g['name'] == body['name'] for g in self.groups.values()):
            raise status_error('AlreadyExists', 'group with name %s already exists' % body['name'])
        g = {'id': new_id(), 'name': body['name'], 'peers': self._known_peer_ids(body.get('peers') or []),
             'issued': 'api'}
        self.groups[g['id']] = g
        return self.group_view(g)

    def update_group(self, gid, body):
        g = self.group(gid)
        if gid == self.all_id:
            raise status_error('InvalidArgument', 'updating group ALL is not allowed')
        if body['name'] == '':
            raise status_error('InvalidArgument', "group name shouldn't be empty")
        # No uniqueness check here: the server checks names only when a group is created.
        g['name'] = body['name']
        g['peers'] = self._known_peer_ids(body.get('peers') or [])
        return self.group_view(g)

    def delete_group(self, gid):
        # DeleteGroups joins every refusal with errors.Join and the handler answers the first one
        # with 400 through WriteErrorResponse: these messages are not lowercased.
        g = self.groups.get(gid)
        if g is None:
            raise raw_error(400, 'group: %s not found' % gid)
        if gid == self.all_id:
            raise raw_error(400, 'deleting group ALL is not allowed')
        for r in self.routes.values():
            if gid in r['groups'] or gid in r['peer_groups'] or gid in r['access_control_groups']:
                raise raw_error(400, 'group has been linked to route: %s' % r['network_id'])
        for p in self.policies.values():
            if any(gid in rule['sources'] or gid in rule['destinations'] for rule in p['rules']):
                raise raw_error(400, 'group has been linked to policy: %s' % p['name'])
        for k in self.setup_keys.values():
            if gid in k['auto_groups']:
                raise raw_error(400, 'group has been linked to setup key: %s' % k['name'])
        del self.groups[gid]
        return {}

    # -- setup keys (setupkeys_handler.go, setupkey.go, types/setupkey.go)

    def _check_auto_groups(self, ids):
        for gid in ids:
            g = self.groups.get(gid)
            if g is None:
                raise status_error('InvalidArgument', 'invalid auto groups: group not found: %s' % gid)
            if gid == self.all_id:
                raise status_error('InvalidArgument', "invalid auto groups: can't add 'All' group to the setup key")

    def setup_key(self, kid):
        k = self.setup_keys.get(kid)
        if k is None:
            raise status_error('NotFound', 'setup key: %s not found' % kid)
        return k

    def create_setup_key(self, body):
        if body['name'] == '':
            raise status_error('InvalidArgument', "setup key name shouldn't be empty")
        if body['type'] not in ('reusable', 'one-off'):
            raise status_error('InvalidArgument', 'unknown setup key type %s' % body['type'])
        if body['type'] == 'one-off' and body['usage_limit'] > 1:
            raise status_error('InvalidArgument', (
                'usage_limit %d is not valid for a one-off setup key, which can be used once; '
                'use type reusable for a key that can be used more than once') % body['usage_limit'])
        if body['expires_in'] < 0:
            raise status_error('InvalidArgument', 'expiresIn can not be in the past')
        auto_groups = body.get('auto_groups') or []
        self._check_auto_groups(auto_groups)
        now = self.clock.now()
        k = {
            'id': new_id(), 'key': str(uuid.uuid4()).upper(), 'name': body['name'], 'type': body['type'],
            'expires_at': now + datetime.timedelta(seconds=body['expires_in']) if body['expires_in'] else None,
            'revoked': False, 'used_times': 0, 'last_used': None, 'auto_groups': list(auto_groups),
            'updated_at': now, 'created_at': now,
            # GenerateSetupKey pins a one-off key's limit at 1.
            'usage_limit': 1 if body['type'] == 'one-off' else body['usage_limit'],
            'ephemeral': bool(body.get('ephemeral')), 'allow_extra_dns_labels': bool(body.get('allow_extra_dns_labels')),
        }
        self.setup_keys[k['id']] = k
        return self.setup_key_view(k, clear=True)

    def update_setup_key(self, kid, body):
        # Only auto_groups and revoked (false to true) change; the groups are checked first.
        self._check_auto_groups(body['auto_groups'])
        k = self.setup_key(kid)
        if k['revoked'] and not body['revoked']:
            raise status_error('InvalidArgument', "can't un-revoke a revoked setup key")
        k['auto_groups'] = list(body['auto_groups'])
        k['revoked'] = body['revoked']
        k['updated_at'] = self.clock.now()
        return self.setup_key_view(k)

    def delete_setup_key(self, kid):
        self.setup_key(kid)
        del self.setup_keys[kid]
        return {}

    # -- policies (policies_handler.go, policy.go)

    def policy(self, pid):
        p = self.policies.get(pid)
        if p is None:
            raise status_error('NotFound', 'policy: %s not found' % pid)
        return p

    def save_policy(self, body, policy_id=None):
        existing = self.policy(policy_id) if policy_id else None
        if body['name'] == '':
            raise status_error('InvalidArgument', "policy name shouldn't be empty")
        if not body['rules']:
            raise status_error('InvalidArgument', "policy rules shouldn't be empty")
        rules = []
        for r in body['rules']:
            rule_id = r['id'] if (r.get('id') is not None and policy_id) else ''
            has_sources = r.get('sources') is not None
            has_source_resource = r.get('sourceResource') is not None
            has_destinations = r.get('destinations') is not None
            has_destination_resource = r.get('destinationResource') is not None
            # (The server's messages, double spaces included.)
            if has_sources and has_source_resource:
                raise status_error('InvalidArgument', 'specify either sources or  source resources, not both')
            if has_destinations and has_destination_resource:
                raise status_error('InvalidArgument', 'specify either destinations or  destination resources, not both')
            if not (has_sources or has_source_resource) or not (has_destinations or has_destination_resource):
                raise status_error('InvalidArgument', 'specify either sources or source resources and '
                                                      'destinations or destination resources')
            if r['action'] not in ('accept', 'drop'):
                raise status_error('InvalidArgument', 'unknown action type')
            if r['protocol'] not in ('all', 'tcp', 'udp', 'icmp', 'netbird-ssh'):
                raise status_error('InvalidArgument', 'unknown protocol type: %s' % r['protocol'])
            ports = r.get('ports') or []
            ranges = r.get('port_ranges') or []
            if ports and ranges:
                raise status_error('InvalidArgument', 'specify either individual ports or port ranges, not both')
            for port in ports:
                if not re.match(r'^[+-]?\d+$', port) or not 1 <= int(port) <= 65535:
                    raise status_error('InvalidArgument', 'valid port value is in 1..65535 range')
            for pr in ranges:
                if pr['start'] < 1 or pr['end'] > 65535:
                    raise status_error('InvalidArgument', 'valid port value is in 1..65535 range')
            authorized = {}
            if r['protocol'] == 'netbird-ssh' and r.get('authorized_groups'):
                for gid in r.get('sources') or []:
                    if gid not in r['authorized_groups']:
                        raise status_error('InvalidArgument', 'authorized group for netbird-ssh protocol '
                                                              'should be specified for each source group')
                authorized = copy.deepcopy(r['authorized_groups'])
            if r['protocol'] in ('all', 'icmp') and (ports or ranges):
                raise status_error('InvalidArgument', 'for ALL or ICMP protocol ports is not allowed')
            rules.append({
                'id': rule_id, 'name': r['name'], 'description': r.get('description') or '',
                'enabled': r['enabled'], 'action': r['action'], 'bidirectional': r['bidirectional'],
                'protocol': r['protocol'], 'sources': list(r.get('sources') or []),
                'destinations': list(r.get('destinations') or []), 'ports': list(ports),
                'port_ranges': [{'start': x['start'], 'end': x['end']} for x in ranges],
                'authorized_groups': authorized,
            })
        if existing is not None:
            known = {rule['id'] for rule in existing['rules']}
            for rule in rules:
                if rule['id'] and rule['id'] not in known:
                    raise status_error('InvalidArgument', 'invalid rule ID: %s' % rule['id'])
        else:
            policy_id = new_id()
        for rule in rules:
            if not rule['id']:
                # validatePolicy gives every new rule the policy's own ID (a TODO there), so new
                # rules of one policy share it.
                rule['id'] = policy_id
            # Unknown groups are dropped, not refused.
            rule['sources'] = [g for g in rule['sources'] if g in self.groups]
            rule['destinations'] = [g for g in rule['destinations'] if g in self.groups]
        checks = body.get('source_posture_checks')
        policy = {
            'id': policy_id, 'name': body['name'], 'description': body.get('description') or '',
            'enabled': body['enabled'], 'rules': rules,
            # No posture checks exist here, so every ID given is dropped as unknown.
            'source_posture_checks': [] if checks is not None else None,
        }
        self.policies[policy_id] = policy
        return self.policy_view(policy)

    def delete_policy(self, pid):
        self.policy(pid)
        del self.policies[pid]
        return {}

    # -- routes (routes_handler.go, route.go)

    def route(self, rid):
        r = self.routes.get(rid)
        if r is None:
            raise status_error('NotFound', 'route: %s not found' % rid)
        return r

    def _check_groups(self, ids):
        if not ids:
            raise status_error('InvalidArgument', 'the list of group IDs should not be empty')
        for gid in ids:
            if gid == '':
                raise status_error('InvalidArgument', 'group ID should not be empty string')
            if gid not in self.groups:
                raise status_error('InvalidArgument', 'group id %s not found' % gid)

    def save_route(self, body, route_id=None):
        if route_id:
            self.route(route_id)
        network, domains = body.get('network'), body.get('domains')
        peer, peer_groups = body.get('peer'), body.get('peer_groups')
        if network is not None and domains is not None:
            raise status_error('InvalidArgument', "only one of 'network' or 'domains' should be provided")
        if network is None and domains is None:
            raise status_error('InvalidArgument', "either 'network' or 'domains' should be provided")
        if peer is None and peer_groups is None:
            raise status_error('InvalidArgument', "either 'peer' or 'peer_groups' should be provided")
        if peer is not None and peer_groups is not None:
            raise status_error('InvalidArgument', "only one of 'peer' or 'peer_groups' should be provided")
        if len(body['network_id']) > 40 or body['network_id'] == '':
            raise status_error('InvalidArgument', 'identifier should be between 1 and 40 characters')
        if domains is not None:
            if not domains:
                raise status_error('InvalidArgument', 'invalid domains: domains list is empty')
            if len(domains) > 32:
                raise status_error('InvalidArgument', 'invalid domains: domains list exceeds maximum allowed domains: 32')
            checked = []
            for d in domains:
                try:
                    puny = d.encode('idna').decode().lower() if not d.isascii() else d.lower()
                except UnicodeError as e:
                    raise status_error('InvalidArgument', 'invalid domains: convert domain to punycode: %s: %s' % (d, e))
                if not DOMAIN_REGEX.match(puny):
                    raise status_error('InvalidArgument', 'invalid domains: invalid domain format: %s' % d)
                checked.append(d.lower())
            prefix, network_type, domains = '192.0.2.0/32', 'Domain', checked
        else:
            try:
                prefix, network_type = parse_prefix(network)
            except ValueError:
                raise status_error('InvalidArgument', 'invalid network %s' % network)
            domains = []
        if not 1 <= body['metric'] <= 9999:
            raise status_error('InvalidArgument', 'metric should be between 1 and 9999')
        new = {
            'id': route_id or new_id(), 'network_id': body['network_id'], 'description': body.get('description', ''),
            'enabled': body['enabled'], 'peer': peer or '', 'peer_groups': list(peer_groups or []),
            'network': prefix, 'domains': domains, 'network_type': network_type,
            'masquerade': body['masquerade'], 'metric': body['metric'], 'groups': list(body['groups']),
            'keep_route': body['keep_route'], 'access_control_groups': list(body.get('access_control_groups') or []),
            'skip_auto_apply': bool(body.get('skip_auto_apply')),
        }
        if new['peer_groups']:
            self._check_groups(new['peer_groups'])
        if new['access_control_groups']:
            self._check_groups(new['access_control_groups'])
        self._check_groups(new['groups'])
        self._check_route_peers(new)
        self.routes[new['id']] = new
        return self.route_view(new)

    def _check_route_peers(self, new):
        """checkRoutePrefixOrDomainsExistForPeers: one route per prefix (or domain list) per peer."""
        if new['domains']:
            desc = 'domains [%s]' % ', '.join(new['domains'])
            same = [r for r in self.routes.values() if r['domains'] and ', '.join(r['domains']) == ', '.join(new['domains'])]
        else:
            desc = 'prefix %s' % new['network']
            same = [r for r in self.routes.values() if not r['domains'] and r['network'] == new['network']]
        seen_peers, seen_groups = set(), set()
        for r in same:
            if r['id'] == new['id']:
                continue
            if r['peer']:
                # (sic) The server records the route's ID here, not its peer's, so a second
                # single-peer route for the same prefix on the same peer is not caught.
                seen_peers.add(r['id'])
            for gid in r['peer_groups']:
                seen_groups.add(gid)
                g = self.groups.get(gid)
                if g is None:
                    raise status_error('InvalidArgument', "failed to add route with %s - peer group %s doesn't exist" % (desc, gid))
                seen_peers.update(g['peers'])
        if new['peer']:
            if new['peer'] not in self.peers:
                raise status_error('InvalidArgument', 'peer with ID %s not found' % new['peer'])
            if new['peer'] in seen_peers:
                raise status_error('AlreadyExists', 'failed to add route with %s - peer %s already has this route' % (desc, new['peer']))
        for gid in new['peer_groups']:
            g = self.groups[gid]
            if gid in seen_groups:
                raise status_error('AlreadyExists', 'failed to add route with %s - peer group %s already has this route' % (desc, g['name']))
            for pid in g['peers']:
                if pid in seen_peers:
                    raise status_error('AlreadyExists', 'failed to add route with %s - peer %s from the group %s already has this route'
                                       % (desc, self.peers[pid]['name'], g['name']))

    def delete_route(self, rid):
        if rid not in self.routes:
            raise status_error('NotFound', 'failed to delete route %s: route: %s not found' % (rid, rid))
        del self.routes[rid]
        return {}

    # -- peers (peers_handler.go, peer.go)

    def list_peers(self, query):
        name, ip = query.get('name', ''), query.get('ip', '')
        peers = self.visible_peers()
        if name:
            peers = [p for p in peers if like(name, p['name'])]
        if ip:
            peers = [p for p in peers if like(ip, p['ip']) or like(ip, p['ipv6'] or '')]
        return [self.peer_view(p, batch=True) for p in peers]

    def update_peer(self, pid, body):
        if body.get('ip') is not None:
            p = self.peers.get(pid)
            if p is None or p['hidden']:
                raise status_error('NotFound', 'update peer IP transaction: get peer: peer not found: %s' % pid)
            new_ip = body['ip']
            if new_ip != p['ip']:
                if ipaddress.ip_address(new_ip) not in ipaddress.ip_network(self.network):
                    raise status_error('InvalidArgument', 'update peer IP transaction: IP %s is not within the account network range %s'
                                       % (new_ip, self.network))
                for other in self.peers.values():
                    if other['id'] != pid and other['ip'] == new_ip:
                        raise status_error('InvalidArgument', 'update peer IP transaction: IP %s is already assigned to peer %s'
                                           % (new_ip, other['id']))
                # Saved at once, before (and whatever) the rest of the update does.
                p['ip'] = new_ip
                self.used_ips.add(new_ip)
        if body.get('ipv6') is not None:
            raise status_error('InvalidArgument', 'the NetBird double does not implement changing a peer IPv6 address')
        p = self.peer(pid)
        change = {}
        if p['name'] != body['name']:
            try:
                label = parsed_label(body['name'])
            except ValueError:
                label = ''
            # GetPeerIdByLabel finds the peer itself too: a rename to the same label moves it.
            if label and any(o['dns_label'] == label for o in self.peers.values()):
                label = ''
            if not label:
                try:
                    label = ip_label(p['ip'], body['name'])
                except ValueError:
                    raise ApiError(500, 'internal server error')
            change['name'] = body['name']
            change['dns_label'] = label
        change['ssh_enabled'] = body['ssh_enabled']
        # Peers here all joined with a setup key, not SSO: these two cannot change.
        if p['login_expiration_enabled'] != body['login_expiration_enabled']:
            raise status_error('PreconditionFailed', "this peer hasn't been added with the SSO login, "
                                                     "therefore the login expiration can't be updated")
        if p['inactivity_expiration_enabled'] != body['inactivity_expiration_enabled']:
            raise status_error('PreconditionFailed', "this peer hasn't been added with the SSO login, "
                                                     "therefore the inactivity expiration can't be updated")
        p.update(change)
        return self.peer_view(p)

    def delete_peer(self, pid):
        p = self.peers.get(pid)
        if p is None or p['hidden']:
            raise status_error('NotFound', 'peer %s account not found' % pid)
        self._remove_peer(p)
        return {}

    def _remove_peer(self, p):
        for g in self.groups.values():
            g['peers'] = [x for x in g['peers'] if x != p['id']]
        del self.peers[p['id']]

    # -- enrolment, the agent channel's side (AddPeer, LoginPeer, SyncPeer, Logout)

    def _allocate_ip(self):
        # AllocateRandomPeerIP: random in the /16; the double never hands out an address twice.
        while True:
            offset = random.randint(1, 65534)
            ip = '100.%d.%d.%d' % (self.net_b, offset >> 8, offset & 255)
            if ip not in self.used_ips:
                self.used_ips.add(ip)
                return ip

    def _allocate_ipv6(self):
        while True:
            ip = str(self.net_v6[random.randint(1, 2 ** 64 - 2)])
            if ip not in self.used_ipv6:
                self.used_ipv6.add(ip)
                return ip

    def peer_by_key(self, public_key):
        for p in self.peers.values():
            if p['public_key'] == public_key:
                return p
        return None

    def login(self, public_key, setup_key, meta, connection_ip):
        """A peer's login: a known key logs in again (no setup key used); an unknown one
        registers with the setup key."""
        p = self.peer_by_key(public_key)
        if p is None:
            p = self._register(public_key, setup_key, meta, connection_ip)
        p['meta'] = dict(meta)
        p['connection_ip'] = connection_ip
        self.mark_connected(p)
        return p

    def _register(self, public_key, setup_key, meta, connection_ip):
        if not setup_key:
            raise AgentError('PermissionDenied', 'no peer auth method provided, please use a setup key or interactive SSO login')
        key = next((k for k in self.setup_keys.values() if k['key'] == setup_key.upper()), None)
        if key is None or not self.setup_key_view(key)['valid']:
            raise AgentError('NotFound', "couldn't add peer: setup key is invalid")
        hostname = meta.get('hostname', '')
        try:
            parsed_label(hostname)
        except ValueError as e:
            raise AgentError('Internal', 'failed handling request (failed to get free DNS label: %s)' % e)
        now = self.clock.now()
        ip = self._allocate_ip()
        if key['ephemeral']:
            label = ip_label(ip, hostname)
        else:
            label = parsed_label(hostname)
            if any(o['dns_label'] == label for o in self.peers.values()):
                # The unique label constraint fails the first attempt; the retry takes a new
                # address and the address-suffixed label.
                ip = self._allocate_ip()
                label = ip_label(ip, hostname)
        hidden = self.hide_enrolments
        p = {
            'id': new_id(), 'public_key': public_key, 'name': hostname, 'dns_label': label, 'ip': ip,
            'ipv6': self._allocate_ipv6(), 'meta': dict(meta), 'connection_ip': connection_ip,
            'connected': False, 'last_seen': now, 'last_login': now, 'created_at': now,
            'ssh_enabled': False, 'login_expiration_enabled': False, 'inactivity_expiration_enabled': False,
            'ephemeral': key['ephemeral'], 'hidden': hidden,
        }
        self.peers[p['id']] = p
        if not hidden:
            for gid in key['auto_groups']:
                if gid in self.groups and p['id'] not in self.groups[gid]['peers']:
                    self.groups[gid]['peers'].append(p['id'])
            self.groups[self.all_id]['peers'].append(p['id'])
        key['used_times'] += 1
        key['last_used'] = now
        return p

    def mark_connected(self, p):
        p['connected'] = True
        p['last_seen'] = self.clock.now()

    def agent_peer(self, public_key):
        p = self.peer_by_key(public_key)
        if p is None:
            raise AgentError('PermissionDenied', 'peer is not registered')
        return p

    def agent_view(self, p):
        return {'id': p['id'], 'ip': p['ip'], 'ipv6': p['ipv6'], 'dns_label': p['dns_label'],
                'fqdn': p['dns_label'] + '.' + self.domain, 'network': self.network,
                'network_v6': str(self.net_v6)}

    def deregister(self, public_key):
        p = self.peer_by_key(public_key)
        if p is None:
            raise AgentError('NotFound', 'peer not found')
        self._remove_peer(p)


class Clock:
    """Real time plus an offset the tests can move forward (setup key expiry)."""

    def __init__(self):
        self.offset = datetime.timedelta()

    def now(self):
        return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) + self.offset


# ---------------------------------------------------------------------------------------------
# The HTTP side

ROUTES = {
    ('GET', '/api/groups'): lambda a, v, q, b: a.list_groups(q),
    ('POST', '/api/groups'): lambda a, v, q, b: a.create_group(b),
    ('GET', '/api/groups/{groupId}'): lambda a, v, q, b: a.group_view(a.group(v['groupId'])),
    ('PUT', '/api/groups/{groupId}'): lambda a, v, q, b: a.update_group(v['groupId'], b),
    ('DELETE', '/api/groups/{groupId}'): lambda a, v, q, b: a.delete_group(v['groupId']),
    ('GET', '/api/setup-keys'): lambda a, v, q, b: [a.setup_key_view(k) for k in a.setup_keys.values()],
    ('POST', '/api/setup-keys'): lambda a, v, q, b: a.create_setup_key(b),
    ('GET', '/api/setup-keys/{keyId}'): lambda a, v, q, b: a.setup_key_view(a.setup_key(v['keyId'])),
    ('PUT', '/api/setup-keys/{keyId}'): lambda a, v, q, b: a.update_setup_key(v['keyId'], b),
    ('DELETE', '/api/setup-keys/{keyId}'): lambda a, v, q, b: a.delete_setup_key(v['keyId']),
    ('GET', '/api/policies'): lambda a, v, q, b: [a.policy_view(p) for p in a.policies.values()],
    ('POST', '/api/policies'): lambda a, v, q, b: a.save_policy(b),
    ('GET', '/api/policies/{policyId}'): lambda a, v, q, b: a.policy_view(a.policy(v['policyId'])),
    ('PUT', '/api/policies/{policyId}'): lambda a, v, q, b: a.save_policy(b, v['policyId']),
    ('DELETE', '/api/policies/{policyId}'): lambda a, v, q, b: a.delete_policy(v['policyId']),
    ('GET', '/api/routes'): lambda a, v, q, b: [a.route_view(r) for r in a.routes.values()],
    ('POST', '/api/routes'): lambda a, v, q, b: a.save_route(b),
    ('GET', '/api/routes/{routeId}'): lambda a, v, q, b: a.route_view(a.route(v['routeId'])),
    ('PUT', '/api/routes/{routeId}'): lambda a, v, q, b: a.save_route(b, v['routeId']),
    ('DELETE', '/api/routes/{routeId}'): lambda a, v, q, b: a.delete_route(v['routeId']),
    ('GET', '/api/peers'): lambda a, v, q, b: a.list_peers(q),
    ('GET', '/api/peers/{peerId}'): lambda a, v, q, b: a.peer_view(a.peer(v['peerId'])),
    ('PUT', '/api/peers/{peerId}'): lambda a, v, q, b: a.update_peer(v['peerId'], b),
    ('DELETE', '/api/peers/{peerId}'): lambda a, v, q, b: a.delete_peer(v['peerId']),
}


def _break(body):
    """The test-only broken answer: drops a required field (`id`, else `name`) from the first
    object it finds, so the answer no longer matches its schema."""
    target = body[0] if isinstance(body, list) and body else body
    if isinstance(target, dict):
        for field in ('id', 'name', 'message'):
            if field in target:
                del target[field]
                break
    return body


class Double:
    def __init__(self, spec, host, port):
        self.spec = spec
        self.host, self.port = host, port
        self.lock = threading.RLock()
        self.clock = Clock()
        self.account = Account(self.clock)
        self.token = new_pat()
        self.requests = []
        self.violations = []
        self.rate_limited = 0
        self.break_next = False
        self.server = None
        self.connections = set()

    @property
    def url(self):
        return 'http://%s:%d' % (self.host, self.port)

    # -- listening, and the "down" fault

    def listen(self):
        double = self

        class Server(ThreadingHTTPServer):
            allow_reuse_address = True
            daemon_threads = True

        class Handler(RequestHandler):
            pass

        Handler.double = double
        self.server = Server((self.host, self.port), Handler)
        # A short poll interval: `down(true)` waits for the loop to notice.
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop_listening(self):
        if self.server is None:
            return
        server, self.server = self.server, None
        server.shutdown()
        # What a dead server process does to connections it had open: they end too (clients
        # that keep connections alive must not be served by a server that is down).
        with self.lock:
            open_connections = list(self.connections)
        for conn in open_connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()

    def set_down(self, down):
        if down:
            self.stop_listening()
        elif self.server is None:
            self.listen()

    # -- /api

    def authenticate(self, header):
        """The PAT half of the server's auth middleware: (status, message) or None."""
        parts = (header or '').split(' ')
        kind = parts[0].lower()
        if len(parts) >= 2 and kind == 'bearer' and parts[1].startswith('nbp_'):
            kind = 'token'
        if kind == 'bearer':
            return status_error('Unauthorized', 'token invalid')
        if kind != 'token':
            return status_error('Unauthorized', 'no valid authentication provided')
        if len(parts) != 2:
            return status_error('Unauthorized', 'token invalid')
        token = parts[1]
        if len(token) != 40 or not token.startswith('nbp_') or not pat_checksum_ok(token):
            return status_error('Unauthorized', 'token invalid')
        if token != self.token:
            # A well-formed token nobody issued: the store's NotFound comes through, wrapped.
            hashed = base64.b64encode(hashlib.sha256(token.encode()).digest()).decode()
            return status_error('NotFound', 'invalid Token: PAT: %s not found' % hashed)
        return None

    def api(self, method, raw_path, headers, raw_body):
        """One /api request: (status, extra headers, body)."""
        parsed = urllib.parse.urlsplit(raw_path)
        query = urllib.parse.parse_qsl(parsed.query, keep_blank_values=True)
        with self.lock:
            operation, problems, body = self.spec.check_request(
                method, parsed.path, query, headers.get('Content-Type'), raw_body)
            for p in problems:
                self.violations.append('request %s %s: %s' % (method, raw_path, p))
            extra = {}
            try:
                if self.rate_limited > 0:
                    self.rate_limited -= 1
                    extra['Retry-After'] = '1'  # deviation 7
                    raise status_error('TooManyRequests', 'too many requests')
                refusal = self.authenticate(headers.get('Authorization'))
                if refusal is not None:
                    raise refusal
                if problems:
                    raise raw_error(400, 'request does not match the API description: %s' % problems[0])
                template = operation[0]
                handler = ROUTES.get((method, template))
                if handler is None:
                    message = 'the NetBird double does not implement %s %s' % (method, template)
                    self.violations.append('request %s %s: %s' % (method, raw_path, message))
                    raise raw_error(404, message)
                if body is None and 'requestBody' in operation[2]:
                    raise raw_error(400, "couldn't parse JSON request")
                status, answer = 200, handler(self.account, operation[3], dict(query), body)
            except ApiError as e:
                status, answer = e.status, {'message': e.message, 'code': e.status}
            if self.break_next:
                self.break_next = False
                answer = _break(answer)
            if operation is not None:
                for p in self.spec.check_response(operation, status, answer):
                    self.violations.append('response %d to %s %s: %s' % (status, method, raw_path, p))
            self.requests.append({'method': method, 'path': raw_path, 'status': status})
            return status, extra, answer

    # -- /__agent (the gRPC stand-in; not validated, not recorded)

    def agent(self, path, body, client_ip):
        with self.lock:
            a = self.account
            try:
                key = body.get('public_key') or ''
                if path == '/__agent/login':
                    p = a.login(key, body.get('setup_key') or '', body.get('meta') or {}, client_ip)
                elif path == '/__agent/sync':
                    p = a.agent_peer(key)
                    a.mark_connected(p)
                elif path == '/__agent/down':
                    p = a.agent_peer(key)
                    p['connected'] = False
                    p['last_seen'] = self.clock.now()
                elif path == '/__agent/deregister':
                    a.deregister(key)
                    return 200, {}
                else:
                    return 404, {'code': 'Unimplemented', 'message': 'unknown method %s' % path}
                return 200, {'peer': a.agent_view(p)}
            except AgentError as e:
                return 400, {'code': e.code, 'message': e.message}


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'  # keep-alive, as Go's server
    server_version = 'netbird-double'
    double = None

    def setup(self):
        super().setup()
        with self.double.lock:
            self.double.connections.add(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            with self.double.lock:
                self.double.connections.discard(self.connection)

    def log_message(self, fmt, *args):
        sys.stderr.write('%s %s\n' % (self.address_string(), fmt % args))

    def _body(self):
        if self.headers.get('Transfer-Encoding', '').lower() == 'chunked':
            data = b''
            while True:
                size = int(self.rfile.readline().split(b';')[0].strip() or b'0', 16)
                if size == 0:
                    while self.rfile.readline() not in (b'\r\n', b'\n', b''):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(length) if length else b''

    def _send(self, status, body, content_type='application/json; charset=UTF-8', headers=None):
        data = (json.dumps(body, separators=(',', ':')) + '\n').encode()
        self.send_response(status)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _handle(self):
        raw_body = self._body()
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith('/__agent/'):
            try:
                body = json.loads(raw_body or b'{}')
            except ValueError:
                body = {}
            status, answer = self.double.agent(path, body, self.client_address[0])
            self._send(status, answer)
        elif path == '/api' or path.startswith('/api/'):
            status, extra, answer = self.double.api(self.command, self.path, self.headers, raw_body)
            # The setup key handler's own writer sends no charset.
            setup_key = re.match(r'^/api/setup-keys/[^/]+$', path) and self.command in ('GET', 'PUT')
            self._send(status, answer, 'application/json' if setup_key and status == 200 else
                       'application/json; charset=UTF-8', extra)
        else:
            self._send(404, {'message': 'not found', 'code': 404})

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _handle


# ---------------------------------------------------------------------------------------------
# The control channel

class ControlError(Exception):
    """A command that cannot be done, answered with its message alone."""


class Control:
    """Commands from the Rust wrapper, one JSON object a line."""

    def __init__(self, double):
        self.double = double

    def run(self, command):
        d = self.double
        op = command.get('op')
        with d.lock:
            if op == 'requests':
                return list(d.requests)
            if op == 'clear_requests':
                d.requests.clear()
                return None
            if op == 'violations':
                return list(d.violations)
            if op == 'take_violations':
                taken, d.violations[:] = list(d.violations), []
                return taken
            if op == 'rate_limit':
                d.rate_limited = int(command['requests'])
                return None
            if op == 'hide_enrolments':
                d.account.hide_enrolments = bool(command['hide'])
                return None
            if op == 'account':
                return d.account.listing()
            if op == 'break_next_response':
                d.break_next = True
                return None
            if op == 'check_response':
                operation = d.spec.find(command['method'], command['path'])
                if operation is None:
                    return ['%s %s is not an operation of the API description' % (command['method'], command['path'])]
                return d.spec.check_response(operation, int(command['status']), command['body'])
            if op == 'advance_clock':
                d.clock.offset += datetime.timedelta(seconds=float(command['seconds']))
                return None
            if op == 'enrol':
                public_key = base64.b64encode(random.getrandbits(256).to_bytes(32, 'big')).decode()
                meta = {'hostname': command['hostname'], 'os': 'Debian GNU/Linux', 'os_version': '12',
                        'kernel_version': '6.1.0', 'version': 'development', 'ui_version': ''}
                try:
                    p = d.account.login(public_key, command.get('setup_key') or '', meta, '127.0.0.1')
                except AgentError as e:
                    raise ControlError('%s: %s' % (e.code, e.message))
                return dict(d.account.agent_view(p), public_key=public_key)
        if op == 'down':
            d.set_down(bool(command['down']))
            return None
        raise ControlError('unknown op %r' % op)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--host', required=True)
    parser.add_argument('--port', type=int, default=33073)
    parser.add_argument('--spec', required=True)
    args = parser.parse_args()
    double = Double(Spec(args.spec), args.host, args.port)
    double.listen()
    print(json.dumps({'url': double.url, 'token': double.token, 'domain': DNS_DOMAIN}), flush=True)
    control = Control(double)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            answer = {'ok': control.run(json.loads(line))}
        except ControlError as e:
            answer = {'error': str(e)}
        except Exception as e:  # a bad command must not end the double
            answer = {'error': '%s: %s' % (type(e).__name__, e)}
        print(json.dumps(answer), flush=True)
    double.stop_listening()


if __name__ == '__main__':
    main()
