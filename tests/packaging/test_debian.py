"""The Debian packages (debian/): built with dpkg-buildpackage from a copy of
the source tree, checked with lintian, installed into a clean Debian 12
root made by debootstrap from the machine's own Debian mirror, then used
there: `modpop3d -t`, a real login from outside through the daemon running
in the chroot, the postinst's refusal to enable a broken configuration, and
the message naming the package of a removed module.

Needs root (debootstrap, chroot, dpkg in the chroot) and the Debian mirror.
CI runs this suite once (scripts/test-all, suite "packaging"). The packages
are cached under /var/cache/modpop3d-packaging/debs/HASH (HASH of the source
tree: an unchanged tree is not built again) and the fresh debootstrap root
as a tarball next to it, so that a second run takes about two minutes.
The debootstrap runs while the packages build.
"""

import glob
import hashlib
import os
import poplib
import re
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

SOURCE_ROOT = os.environ.get('MODPOP3D_SOURCE_ROOT',
                             os.path.dirname(os.path.dirname(os.path.dirname(
                                 os.path.abspath(__file__)))))
CACHE = '/var/cache/modpop3d-packaging'
SUITE = 'bookworm'
BUILD_TIMEOUT = 1800
APT_TIMEOUT = 600

if os.geteuid() != 0:
    pytest.skip('the packaging test needs root (debootstrap, chroot, dpkg)',
                allow_module_level=True)


def run(cmd, timeout=300, check=True, **kw):
    """Runs cmd, returns the CompletedProcess; output in the failure text."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise AssertionError('%s exited %d:\n%s' % (cmd, p.returncode, p.stdout[-4000:]))
    return p


def source_files():
    """The tree to package: what git tracks plus untracked, unignored files."""
    if os.path.exists(os.path.join(SOURCE_ROOT, '.git')):
        p = subprocess.run(['git', '-C', SOURCE_ROOT, 'ls-files', '-co', '--exclude-standard',
                            '-z'], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           text=True, timeout=60, check=False)
        if p.returncode == 0:  # else (e.g. another owner's clone): walk the tree
            return sorted(f for f in p.stdout.split('\0')
                          if f and os.path.isfile(os.path.join(SOURCE_ROOT, f)))
    files = []
    for d, dirs, names in os.walk(SOURCE_ROOT):
        dirs[:] = [x for x in dirs if not x.startswith(('build', '.', 'demo'))]
        files += [os.path.relpath(os.path.join(d, n), SOURCE_ROOT) for n in names]
    return sorted(files)


def tree_hash(files):
    """Names the packages' cache entry. tests/ is left out: debian/rules
    builds with -Dtests=false, so no file there reaches a package."""
    h = hashlib.sha256()
    for f in files:
        if f.startswith('tests/'):
            continue
        h.update(f.encode() + b'\0')
        with open(os.path.join(SOURCE_ROOT, f), 'rb') as fh:
            h.update(hashlib.sha256(fh.read()).digest())
    return h.hexdigest()[:16]


def abi_major():
    with open(os.path.join(SOURCE_ROOT, 'modapi/include/modpop3d/module.h')) as f:
        return re.search(r'^#define MODPOP3D_ABI_MAJOR (\d+)', f.read(), re.M).group(1)


def module_packages():
    """Module packages named in debian/control (modpop3d-KIND-NAME)."""
    with open(os.path.join(SOURCE_ROOT, 'debian/control')) as f:
        return re.findall(r'^Package: (modpop3d-(?:auth|mailbox|hook)-\S+)$', f.read(), re.M)


def mirror():
    """The Debian mirror this machine's apt uses for SUITE (main)."""
    for path in sorted(glob.glob('/etc/apt/sources.list.d/*.sources')):
        with open(path) as f:
            for stanza in f.read().split('\n\n'):
                fields = dict(re.findall(r'^([A-Za-z-]+):\s*(.*)$', stanza, re.M))
                if SUITE in fields.get('Suites', '').split() and \
                        'main' in fields.get('Components', '').split() and \
                        fields.get('Types', 'deb').split()[0] == 'deb':
                    return fields['URIs'].split()[0]
    for path in ['/etc/apt/sources.list'] + sorted(glob.glob('/etc/apt/sources.list.d/*.list')):
        if os.path.isfile(path):
            with open(path) as f:
                for line in f:
                    m = re.match(r'^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+' + SUITE + r'\s.*\bmain\b', line)
                    if m:
                        return m.group(1)
    return 'http://deb.debian.org/debian'


@pytest.fixture(scope='module')
def work():
    d = tempfile.mkdtemp(prefix='modpop3d-packaging-')
    yield d
    shutil.rmtree(d, ignore_errors=True)


def base_tarball():
    arch = run(['dpkg', '--print-architecture']).stdout.strip()
    return os.path.join(CACHE, '%s-minbase-%s.tar' % (SUITE, arch))


@pytest.fixture(scope='module')
def bootstrap(work):
    """debootstrap of the clean root when none is cached, started at once:
    it waits on the mirror while the package build uses the CPUs."""
    if os.path.isfile(base_tarball()):
        yield None
        return
    fresh = os.path.join(work, 'debootstrap')
    log = open(os.path.join(work, 'debootstrap.log'), 'w+')
    proc = subprocess.Popen(['debootstrap', '--variant=minbase', SUITE, fresh, mirror()],
                            stdout=log, stderr=subprocess.STDOUT)
    yield proc, fresh, log
    if proc.poll() is None:
        proc.kill()
        proc.wait()
        # A debootstrap killed midway may leave its mounts in the target.
        for m in ['proc', 'sys', 'dev/pts']:
            subprocess.run(['umount', '-l', os.path.join(fresh, m)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log.close()


@pytest.fixture(scope='module')
def debs(work, bootstrap):
    """The built .deb files (from the cache when the tree is unchanged)."""
    files = source_files()
    key = tree_hash(files)
    cached = os.path.join(CACHE, 'debs', key)
    if not glob.glob(os.path.join(cached, '*.deb')):
        src = os.path.join(work, 'build', 'modpop3d')
        for f in files:
            os.makedirs(os.path.dirname(os.path.join(src, f)), exist_ok=True)
            shutil.copy2(os.path.join(SOURCE_ROOT, f), os.path.join(src, f))
        env = dict(os.environ, DEB_BUILD_OPTIONS='nocheck parallel=2')
        start = time.monotonic()
        p = run(['dpkg-buildpackage', '-us', '-uc', '-b'], cwd=src, env=env,
                timeout=BUILD_TIMEOUT, check=False)
        with open(os.path.join(work, 'build.log'), 'w') as f:
            f.write(p.stdout)
        assert p.returncode == 0, 'dpkg-buildpackage failed:\n' + p.stdout[-6000:]
        print('dpkg-buildpackage: %.0f s' % (time.monotonic() - start))
        shutil.rmtree(os.path.join(CACHE, 'debs'), ignore_errors=True)  # one tree kept
        os.makedirs(cached)
        for deb in glob.glob(os.path.join(work, 'build', '*.deb')) + \
                glob.glob(os.path.join(work, 'build', '*.changes')) + \
                glob.glob(os.path.join(work, 'build', '*.buildinfo')):
            shutil.copy2(deb, cached)
    return sorted(d for d in glob.glob(os.path.join(cached, '*.deb')) if '-dbgsym_' not in d)


@pytest.fixture(scope='module')
def lintian(debs):
    """lintian over the built packages, started at once (it takes a minute)
    and read by the test that needs it."""
    changes = glob.glob(os.path.join(os.path.dirname(debs[0]), '*.changes'))
    proc = subprocess.Popen(['lintian', '--no-tag-display-limit'] + changes,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def deb_of(debs, package):
    found = [d for d in debs if os.path.basename(d).startswith(package + '_')]
    assert len(found) == 1, (package, debs)
    return found[0]


def deb_field(deb, field):
    return run(['dpkg-deb', '-f', deb, field]).stdout.strip()


def chroot(root, *cmd, timeout=300, check=True, input=None, extra_env=None):
    env = {'PATH': '/usr/sbin:/usr/bin:/sbin:/bin', 'LC_ALL': 'C.UTF-8',
           'DEBIAN_FRONTEND': 'noninteractive', 'HOME': '/root'}
    env.update(extra_env or {})
    p = subprocess.run(['chroot', root] + list(cmd), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=timeout, env=env,
                       input=input)
    if check and p.returncode != 0:
        raise AssertionError('in chroot: %s exited %d:\n%s' % (cmd, p.returncode, p.stdout[-4000:]))
    return p


@pytest.fixture(scope='module')
def root(work, bootstrap, debs, lintian):
    """A clean Debian 12 root with every package installed through apt (the
    dependencies come from the mirror). Depends on lintian so that lintian
    runs while this is set up."""
    tarball = base_tarball()
    r = os.path.join(work, 'root')
    if bootstrap is not None:
        proc, fresh, log = bootstrap
        rc = proc.wait(timeout=APT_TIMEOUT)
        log.seek(0)
        assert rc == 0, 'debootstrap failed:\n' + log.read()[-4000:]
        os.makedirs(CACHE, exist_ok=True)
        run(['tar', '-C', fresh, '-cf', tarball + '.part', '.'])
        os.rename(tarball + '.part', tarball)
        shutil.rmtree(fresh)
    os.makedirs(r)
    run(['tar', '-C', r, '-xf', tarball])
    shutil.copy('/etc/resolv.conf', os.path.join(r, 'etc/resolv.conf'))
    os.makedirs(os.path.join(r, 'tmp/debs'))
    for d in debs:
        shutil.copy(d, os.path.join(r, 'tmp/debs'))
    chroot(r, 'apt-get', 'update', '-q', timeout=APT_TIMEOUT)
    p = chroot(r, 'sh', '-c', 'apt-get install -y -q --no-install-recommends /tmp/debs/*.deb',
               timeout=APT_TIMEOUT)
    with open(os.path.join(work, 'install.log'), 'w') as f:
        f.write(p.stdout)
    yield r


def test_each_module_package_has_its_files_and_abi_dependency(debs):
    major = abi_major()
    core = deb_of(debs, 'modpop3d')
    assert re.search(r'\bmodpop3d-abi-%s \(= %s\.\d+\)' % (major, major),
                     deb_field(core, 'Provides'))
    modules = module_packages()
    assert len(modules) >= 11, modules
    for package in modules:
        tag = package[len('modpop3d-'):].replace('-', '_')
        deb = deb_of(debs, package)
        assert re.search(r'\bmodpop3d-abi-%s \(>= %s\.\d+\)' % (major, major),
                         deb_field(deb, 'Depends')), package
        files = run(['dpkg-deb', '-c', deb]).stdout
        assert './usr/lib/modpop3d/modules/%s.so' % tag in files, package
        assert re.search(r'\./usr/share/man/man8/modpop3d-%s\.8\.gz' % tag, files), package
        snippet = re.search(r'\./(etc/modpop3d/conf\.d/\d\d-%s\.conf)' % tag, files)
        assert snippet, package
        ctrl = os.path.join(os.path.dirname(deb), '.ctrl-' + package)
        shutil.rmtree(ctrl, ignore_errors=True)
        run(['dpkg-deb', '-e', deb, ctrl])
        with open(os.path.join(ctrl, 'conffiles')) as f:
            assert '/' + snippet.group(1) in f.read().split(), package
        shutil.rmtree(ctrl)
    dev = run(['dpkg-deb', '-c', deb_of(debs, 'modpop3d-dev')]).stdout
    for f in ['./usr/include/modpop3d/module.h', 'pkgconfig/modpop3d-modapi.pc',
              './usr/share/man/man7/modpop3d-modapi.7.gz',
              'examples/auth_example/auth_example.c']:
        assert f in dev, f
    core_files = run(['dpkg-deb', '-c', core]).stdout
    for f in ['./usr/sbin/modpop3d', './etc/modpop3d/modpop3d.conf',
              '/systemd/system/modpop3d.service', '/systemd/system/modpop3d.socket',
              './usr/share/man/man8/modpop3d.8.gz',
              './usr/share/modpop3d/fail2ban/filter.d/modpop3d.conf']:
        assert f in core_files, f


def test_installed_configuration_passes_check(root):
    p = chroot(root, 'modpop3d', '-t', check=False)
    assert p.returncode == 0, p.stdout
    assert 'configuration is valid' in p.stdout
    assert chroot(root, 'getent', 'passwd', 'modpop3d').stdout.startswith('modpop3d:')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_port(port, proc, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, 'daemon exited: ' + proc.stdout.read()
        try:
            socket.create_connection(('127.0.0.1', port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError('daemon not listening on %d' % port)


def test_daemon_from_the_packages_serves_a_login(root):
    # alice@example.org in the flat file of auth_flatfile's default
    # snippet (/etc/modpop3d/users/$(domain)), Maildir under /var/vmail.
    line = chroot(root, 'modpop3d-passwd', '--stdin', 'alice', input='wonderland\n').stdout
    users = os.path.join(root, 'etc/modpop3d/users/example.org')
    with open(users, 'w') as f:
        f.write(line.strip().splitlines()[-1] + '\n')
    chroot(root, 'chown', 'root:modpop3d', '/etc/modpop3d/users/example.org')
    os.chmod(users, 0o640)
    with open(os.path.join(root, 'etc/modpop3d/conf.d/10-auth_flatfile.conf'), 'a') as f:
        f.write('home: /var/vmail/$(local_part)\n')
    for d in ['new', 'cur', 'tmp']:
        os.makedirs(os.path.join(root, 'var/vmail/alice/Maildir', d))
    body = 'From: bob@example.org\r\nSubject: packaged\r\n\r\nserved from a .deb\r\n'
    with open(os.path.join(root, 'var/vmail/alice/Maildir/new/1.test'), 'w', newline='') as f:
        f.write(body)
    chroot(root, 'chown', '-R', 'modpop3d:modpop3d', '/var/vmail')
    port = free_port()
    with open(os.path.join(root, 'etc/modpop3d/conf.d/00-test.conf'), 'w') as f:
        f.write('listen: 127.0.0.1:%d\nlog-target: stderr\n' % port)
    chroot(root, 'modpop3d', '-t')
    proc = subprocess.Popen(['chroot', root, 'modpop3d', '-f', '/etc/modpop3d/modpop3d.conf'],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={'PATH': '/usr/sbin:/usr/bin:/sbin:/bin'})
    try:
        wait_port(port, proc)
        pop = poplib.POP3('127.0.0.1', port, timeout=10)
        pop.user('alice@example.org')
        assert pop.pass_('wonderland').startswith(b'+OK')
        assert pop.stat()[0] == 1
        assert b'served from a .deb' in b'\r\n'.join(pop.retr(1)[1])
        pop.quit()
        pop = poplib.POP3('127.0.0.1', port, timeout=10)
        pop.user('alice@example.org')
        with pytest.raises(poplib.error_proto):
            pop.pass_('wrong')
        pop.close()
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
        os.unlink(os.path.join(root, 'etc/modpop3d/conf.d/00-test.conf'))


def enabled(root):
    return os.path.lexists(os.path.join(
        root, 'etc/systemd/system/multi-user.target.wants/modpop3d.service'))


def test_postinst_does_not_enable_a_broken_configuration(root):
    # The postinst run as dpkg runs it (deb-systemd-helper insists).
    as_dpkg = {'DPKG_MAINTSCRIPT_PACKAGE': 'modpop3d', 'DPKG_MAINTSCRIPT_NAME': 'postinst'}
    # Forget the enablement of the first installation, as on a new machine.
    chroot(root, 'deb-systemd-helper', 'purge', 'modpop3d.service', extra_env=as_dpkg)
    os.unlink(os.path.join(root, 'var/lib/modpop3d/debian-unit-enabled'))
    assert not enabled(root)
    bad = os.path.join(root, 'etc/modpop3d/conf.d/00-broken.conf')
    with open(bad, 'w') as f:
        f.write('no-such-key: 1\n')
    p = chroot(root, '/var/lib/dpkg/info/modpop3d.postinst', 'configure', '', extra_env=as_dpkg)
    assert "'modpop3d -t' refuses the configuration" in p.stdout, p.stdout
    assert '00-broken.conf:1' in p.stdout, p.stdout
    assert not enabled(root)
    os.unlink(bad)
    p = chroot(root, '/var/lib/dpkg/info/modpop3d.postinst', 'configure', '', extra_env=as_dpkg)
    assert 'refuses' not in p.stdout, p.stdout
    assert enabled(root)
    # Enabled once: an admin's disable is kept by the next configure.
    chroot(root, 'deb-systemd-helper', 'disable', 'modpop3d.service', extra_env=as_dpkg)
    assert not enabled(root)
    chroot(root, '/var/lib/dpkg/info/modpop3d.postinst', 'configure', '0.1.0', extra_env=as_dpkg)
    assert not enabled(root)


def test_removed_module_package_is_named_by_check(root):
    p = chroot(root, 'dpkg', '-r', 'modpop3d-mailbox-mbox')
    # The core's file trigger on the module directory ran (and did not fail).
    assert 'Processing triggers for modpop3d ' in p.stdout, p.stdout
    assert not os.path.exists(os.path.join(root, 'usr/lib/modpop3d/modules/mailbox_mbox.so'))
    # The conffile stays (removed, not purged): its section asks for the module.
    assert os.path.exists(os.path.join(root, 'etc/modpop3d/conf.d/21-mailbox_mbox.conf'))
    p = chroot(root, 'modpop3d', '-t', check=False)
    assert p.returncode != 0, p.stdout
    assert 'modpop3d-mailbox-mbox' in p.stdout, p.stdout
    assert "module 'mailbox_mbox' not found" in p.stdout, p.stdout
    chroot(root, 'dpkg', '--purge', 'modpop3d-mailbox-mbox')
    p = chroot(root, 'modpop3d', '-t', check=False)
    assert p.returncode == 0, p.stdout


# Last: lintian runs in the background while the tests above use the root.
def test_lintian_reports_no_errors(lintian):
    out, _ = lintian.communicate(timeout=900)
    tags = [line for line in out.splitlines() if re.match(r'^[EWIP]: ', line)]
    print('lintian: %d lines\n%s' % (len(tags), '\n'.join(tags)))
    errors = [t for t in tags if t.startswith('E: ')]
    assert not errors, '\n'.join(errors)
    assert lintian.returncode == 0, out[-3000:]  # 1: a tag at --fail-on (error), 2: lintian failed
