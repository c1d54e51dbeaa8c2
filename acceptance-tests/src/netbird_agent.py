"""A stand-in for the NetBird agent's CLI (`netbird`) on the SSH test hosts, talking to
netbird_double.py: no real agent (nor a WireGuard interface) can run there.

netbird.rs installs a copy per host, with STATE_DIR below set to that host's own directory, on
/usr/local/bin of the host's SSH sessions only. It runs on /usr/bin/python3 with the standard
library alone. Commands, flags, environment variables, output and exit statuses follow the real
client (client/cmd/{root,up,down,status,logout}.go and client/status/status.go):

    netbird up [-m|--management-url URL] [-k|--setup-key KEY | --setup-key-file PATH] [-n|--hostname NAME]
    netbird login (the same flags; registers without connecting)
    netbird down
    netbird status [--json | -d | --ipv4]
    netbird deregister (alias: logout)
    netbird version

As in the real client:
- every flag can also come from NB_<FLAG> or WT_<FLAG> (NB_SETUP_KEY, NB_SETUP_KEY_FILE,
  NB_MANAGEMENT_URL, NB_HOSTNAME, ...), and such a variable wins over the command line (the real
  one applies them after parsing the flags);
- `up` on a connected agent prints "Already connected" and ignores every new flag;
- `deregister`/`logout` deletes the peer from the management server and forgets the identity;
- a login the server refuses leaves NeedsLogin (PermissionDenied) or LoginFailed (anything else).
What differs: there is no daemon (state lives in STATE_DIR and each command acts at once), no
tunnel (`peers` is always empty), no retry with backoff (an unreachable server fails at once),
and Login/Sync/Logout go over the double's private /__agent/ channel instead of gRPC.

Every invocation appends its argv (from /proc/self/cmdline) and the names, never the values, of
its environment variables to STATE_DIR/argv.log, one JSON object a line, so tests can prove a
setup key never travelled on a command line.
"""

import base64
import json
import os
import platform
import socket
import sys
import urllib.error
import urllib.request

STATE_DIR = None  # set per host by netbird.rs when it installs this script
VERSION = '0.77.1'  # the release of the client source this follows
DEFAULT_MANAGEMENT_URL = 'https://api.netbird.io:443'
WIREGUARD_PORT = 51820

# (long name, short name, takes a value)
FLAGS = [
    ('management-url', 'm', True), ('setup-key', 'k', True), ('setup-key-file', None, True),
    ('hostname', 'n', True), ('config', 'c', True), ('log-level', 'l', True), ('log-file', None, True),
    ('daemon-addr', None, True), ('admin-url', None, True), ('preshared-key', None, True),
    ('profile', None, True), ('json', 'j', False), ('yaml', 'y', False), ('detail', 'd', False),
    ('ipv4', '4', False), ('ipv6', '6', False), ('anonymize', 'A', False),
    ('disable-auto-connect', None, False), ('foreground-mode', 'F', False),
]


class Failure(Exception):
    pass


def state_dir():
    d = STATE_DIR or os.environ.get('HOMELAB_NETBIRD_STATE_DIR')
    if not d:
        raise Failure('the stand-in netbird has no state directory (install it with netbird.rs)')
    os.makedirs(d, exist_ok=True)
    return d


def log_invocation():
    try:
        with open('/proc/self/cmdline', 'rb') as f:
            argv = [a.decode(errors='replace') for a in f.read().split(b'\0') if a]
    except OSError:
        argv = list(sys.argv)
    with open(os.path.join(state_dir(), 'argv.log'), 'a') as f:
        f.write(json.dumps({'argv': argv, 'env': sorted(os.environ)}) + '\n')


def load(name, default):
    try:
        with open(os.path.join(state_dir(), name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def save(name, value):
    path = os.path.join(state_dir(), name)
    with open(path + '.tmp', 'w') as f:
        json.dump(value, f, indent=1)
    os.replace(path + '.tmp', path)


def parse(args):
    """pflag's way: long flags as --name value or --name=value, short ones as -k value or
    -kvalue, anywhere on the line; the environment then overrides (SetFlagsFromEnvVars)."""
    by_long = {f[0]: f for f in FLAGS}
    by_short = {f[1]: f for f in FLAGS if f[1]}
    values, given, words = {}, set(), []
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith('--') and len(a) > 2:
            name, eq, value = a[2:].partition('=')
            flag = by_long.get(name)
            if flag is None:
                raise Failure('unknown flag: --%s' % name)
        elif a.startswith('-') and len(a) > 1:
            flag = by_short.get(a[1])
            if flag is None:
                raise Failure('unknown shorthand flag: %r in %s' % (a[1], a))
            eq, value = ('=', a[2:].lstrip('=')) if len(a) > 2 else ('', '')
        else:
            words.append(a)
            i += 1
            continue
        if flag[2]:
            if not eq:
                i += 1
                if i >= len(args):
                    raise Failure('flag needs an argument: --%s' % flag[0])
                value = args[i]
            values[flag[0]] = value
        else:
            values[flag[0]] = 'true'
        given.add(flag[0])
        i += 1
    if 'setup-key' in given and 'setup-key-file' in given:
        raise Failure('if any flags in the group [setup-key setup-key-file] are set none of the others can be; '
                      '[setup-key setup-key-file] were all set')
    for long_name, _, _ in FLAGS:
        env = long_name.replace('-', '_').upper()
        for prefix in ('WT_', 'NB_'):
            if prefix + env in os.environ:
                values[long_name] = os.environ[prefix + env]
    return words, values


# -- the management channel


def call(url, method, body):
    """One call on the double's agent channel: the peer view, or Failure carrying the gRPC code
    and message the real client would print."""
    request = urllib.request.Request(
        url.rstrip('/') + '/__agent/' + method, data=json.dumps(body).encode(),
        headers={'Content-Type': 'application/json'}, method='POST')
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=5) as response:
            return json.loads(response.read() or b'{}')
    except urllib.error.HTTPError as e:
        try:
            answer = json.loads(e.read() or b'{}')
        except ValueError:
            answer = {}
        err = Failure('rpc error: code = %s desc = %s' % (answer.get('code', 'Unknown'), answer.get('message', e.reason)))
        err.code = answer.get('code', 'Unknown')
        raise err
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, 'reason', e)
        err = Failure('rpc error: code = Unavailable desc = connection error: %s' % reason)
        err.code = 'Unavailable'
        raise err


def identity():
    config = load('config.json', {})
    if not config.get('public_key'):
        # A WireGuard key pair stand-in: only the public half is ever shown.
        private = os.urandom(32)
        config['private_key'] = base64.b64encode(private).decode()
        config['public_key'] = base64.b64encode(os.urandom(32)).decode()
        save('config.json', config)
    return config


def meta(hostname):
    release = {}
    try:
        with open('/etc/os-release') as f:
            for line in f:
                k, _, v = line.strip().partition('=')
                release[k] = v.strip('"')
    except OSError:
        pass
    return {'hostname': hostname, 'os': release.get('NAME', 'Linux'), 'os_version': release.get('VERSION_ID', ''),
            'kernel_version': platform.release(), 'version': VERSION, 'ui_version': 'netbird-cli/' + VERSION}


def set_state(status, **fields):
    state = load('state.json', {})
    state['status'] = status
    state.update(fields)
    save('state.json', state)
    return state


# -- commands


def setup_key(values):
    key = values.get('setup-key', '')
    if not key and values.get('setup-key-file'):
        try:
            with open(values['setup-key-file']) as f:
                key = f.read().strip()
        except OSError as e:
            raise Failure('get setup key: failed to read setup key file: %s' % e)
    return key


def login(values, connect):
    config = identity()
    url = values.get('management-url') or config.get('management_url') or DEFAULT_MANAGEMENT_URL
    hostname = values.get('hostname') or socket.gethostname()
    key = setup_key(values)
    try:
        answer = call(url, 'login', {'public_key': config['public_key'], 'setup_key': key, 'meta': meta(hostname)})
    except Failure as e:
        code = getattr(e, 'code', 'Unknown')
        set_state('NeedsLogin' if code == 'PermissionDenied' else 'LoginFailed', management_url=url,
                  management_error=str(e))
        if code == 'Unavailable':
            raise Failure('daemon up failed: login backoff cycle failed: %s' % e)
        raise Failure('daemon up failed: login failed: %s' % e)
    config['management_url'] = url
    save('config.json', config)
    peer = answer['peer']
    if not connect:
        call(url, 'down', {'public_key': config['public_key']})
    set_state('Connected' if connect else 'Idle', management_url=url, management_error='', peer=peer)


def cmd_up(values):
    state = load('state.json', {})
    if state.get('status') == 'Connected':
        config = identity()
        try:
            call(state['management_url'], 'sync', {'public_key': config['public_key']})
            print('Already connected')
            return 0
        except Failure as e:
            if getattr(e, 'code', '') != 'PermissionDenied':
                # Unreachable: the daemon still runs its engine, and says so.
                print('Already connected')
                return 0
            set_state('NeedsLogin', peer=None)
    login(values, connect=True)
    print('Connected')
    return 0


def cmd_login(values):
    login(values, connect=False)
    print('Logging successfully')
    return 0


def cmd_down(values):
    state = load('state.json', {})
    if state.get('status') != 'Connected':
        raise Failure('rpc error: code = Unknown desc = service is not up')
    try:
        call(state['management_url'], 'down', {'public_key': identity()['public_key']})
    except Failure:
        pass  # a server that is gone learns about it when the stream breaks
    set_state('Idle')
    print('Disconnected')
    return 0


def cmd_deregister(values):
    config = load('config.json', {})
    state = load('state.json', {})
    if not config.get('management_url'):
        raise Failure('deregister: rpc error: code = FailedPrecondition desc = not logged in')
    try:
        call(config['management_url'], 'deregister', {'public_key': config['public_key']})
    except Failure as e:
        # A peer already deleted on the server counts as deregistered (logoutPeerGone).
        if getattr(e, 'code', '') != 'NotFound':
            raise Failure('deregister: %s' % e)
    for name in ('config.json', 'state.json'):
        try:
            os.remove(os.path.join(state_dir(), name))
        except OSError:
            pass
    set_state('NeedsLogin', management_url=state.get('management_url', ''))
    print('Deregistered successfully')
    return 0


def sync_status():
    """What the daemon knows right now: a connected agent syncs with the management server, which
    also keeps the peer connected there; a peer the server no longer knows needs a new login."""
    state = load('state.json', {'status': 'NeedsLogin'})
    connected = False
    if state.get('status') == 'Connected':
        try:
            answer = call(state['management_url'], 'sync', {'public_key': identity()['public_key']})
            state = set_state('Connected', peer=answer['peer'], management_error='')
            connected = True
        except Failure as e:
            if getattr(e, 'code', '') == 'PermissionDenied':
                state = set_state('NeedsLogin', peer=None, management_error=str(e))
            else:
                state = set_state('Connected', management_error=str(e))
    return state, connected


def cmd_status(values):
    state, connected = sync_status()
    status = state.get('status', 'NeedsLogin')
    peer = state.get('peer') if status in ('Connected', 'Idle') else None
    url = state.get('management_url', '')
    signal = url.rsplit(':', 1)[0] + ':10000' if url else ''
    up = status == 'Connected'
    ip = '%s/%s' % (peer['ip'], peer['network'].split('/')[1]) if peer and up else ''
    ipv6 = '%s/%s' % (peer['ipv6'], peer['network_v6'].split('/')[1]) if peer and up and peer.get('ipv6') else ''
    if values.get('ipv4'):
        sys.stdout.write(ip.split('/')[0])
        return 0
    needs_auth = status in ('NeedsLogin', 'LoginFailed', 'SessionExpired')
    if needs_auth and not values.get('json') and not values.get('yaml'):
        print('Daemon status: %s\n\nRun UP command to log in with SSO (interactive login):\n\n netbird up \n\n'
              'If you are running a self-hosted version and no SSO provider has been configured in your '
              'Management Server,\nyou can use a setup-key:\n\n netbird up --management-url '
              '<YOUR_MANAGEMENT_URL> --setup-key <YOUR_SETUP_KEY>\n\n'
              'More info: https://docs.netbird.io/how-to/register-machines-using-setup-keys\n' % status)
        return 0
    overview = {
        'peers': {'total': 0, 'connected': 0, 'details': []},
        'cliVersion': VERSION, 'daemonVersion': VERSION, 'daemonStatus': status,
        'management': {'url': url if up else '', 'connected': connected, 'error': state.get('management_error', '') if up else ''},
        'signal': {'url': signal if up else '', 'connected': connected, 'error': ''},
        'relays': {'total': 0, 'available': 0, 'details': []},
        'netbirdIp': ip,
        'publicKey': identity()['public_key'] if up else '',
        'usesKernelInterface': False, 'wireguardPort': WIREGUARD_PORT if up else 0,
        'fqdn': peer['fqdn'] if peer and up else '',
        'quantumResistance': False, 'quantumResistancePermissive': False,
        'networks': [], 'forwardingRules': 0, 'dnsServers': [], 'events': [],
        'lazyConnectionEnabled': False, 'profileName': 'default',
        'sshServer': {'enabled': False, 'sessions': []},
    }
    if ipv6:
        overview['netbirdIpv6'] = ipv6
    if values.get('json'):
        print(json.dumps(overview, indent=2))
    else:
        print('OS: linux/%s\nDaemon version: %s\nCLI version: %s\nProfile: default\nManagement: %s\n'
              'Signal: %s\nRelays: 0/0 Available\nNameservers: 0/0 Available\nFQDN: %s\nNetBird IP: %s\n'
              'Interface type: Userspace\nQuantum resistance: false\nLazy connection: false\n'
              'SSH Server: Disabled\nNetworks: -\nForwarding rules: 0\nPeers count: 0/0 Connected'
              % (platform.machine(), VERSION, VERSION, 'Connected' if connected else 'Disconnected',
                 'Connected' if connected else 'Disconnected', overview['fqdn'], ip or 'N/A'))
    return 0


COMMANDS = {'up': cmd_up, 'login': cmd_login, 'down': cmd_down, 'status': cmd_status,
            'deregister': cmd_deregister, 'logout': cmd_deregister,
            'version': lambda values: print(VERSION) or 0}


def main():
    try:
        log_invocation()
        words, values = parse(sys.argv[1:])
        if not words or words[0] not in COMMANDS:
            raise Failure('unknown command %r for "netbird"' % (words[0] if words else ''))
        return COMMANDS[words[0]](values)
    except Failure as e:
        sys.stderr.write('Error: %s\n' % e)
        return 1


if __name__ == '__main__':
    sys.exit(main())
