"""A real slapd on 127.0.0.1 for the tests, configured as docs/directory-design.md says."""
import os
import shutil
import subprocess
import urllib.parse

from server_process import ServerProcess, free_port

SCHEMA_DIR = "/etc/ldap/schema"
MODULE_DIR = "/usr/lib/ldap"


# The tests need the behaviour of argon2, not its cost: the cheapest parameters.
# The benchmark passes the role's (roles/ldap_directory/defaults/main.yml).
TEST_ARGON2 = "m=1024 t=1 p=1"


def hash_password(password, argon2_parameters=TEST_ARGON2):
    """An {ARGON2} hash as slapd would make it (slappasswd with the argon2 module)."""
    out = subprocess.run(["slappasswd", "-o", "module-load=argon2 " + argon2_parameters, "-h", "{ARGON2}",
                          "-s", password],
                         capture_output=True, text=True, check=True, timeout=30)
    return out.stdout.strip()


class SlapdServer(ServerProcess):
    name = "slapd"

    def __init__(self, workdir, suffix="dc=bekasikota,dc=go,dc=id", admin_password="admin-Secret-1",
                 toolkit_password="toolkit-Secret-1", mailserver_password="mailserver-Secret-1",
                 argon2_parameters=TEST_ARGON2, toolkit_limits=True, size_limit=500):
        self.dir = str(workdir)
        # As the role: the toolkit reads every account (no size limit); others keep slapd's 500.
        self.limits = 'olcLimits: dn.exact="%s" time=unlimited size=unlimited\n' % (
            "cn=toolkit,ou=system," + suffix) if toolkit_limits else ""
        self.size_limit = size_limit
        self.argon2_parameters = argon2_parameters
        self.suffix = suffix
        self.port = free_port()
        self.uri = "ldap://127.0.0.1:%d" % self.port
        self.socket = os.path.join(self.dir, "ldapi")
        self.ldapi = "ldapi://" + urllib.parse.quote(self.socket, safe="")
        self.admin_dn = "cn=admin," + suffix
        self.toolkit_dn = "cn=toolkit,ou=system," + suffix
        self.mailserver_dn = "cn=mailserver,ou=system," + suffix
        self.base = "ou=accounts," + suffix
        self.passwords = {self.admin_dn: admin_password, self.toolkit_dn: toolkit_password,
                          self.mailserver_dn: mailserver_password}
        os.makedirs(os.path.join(self.dir, "db"), exist_ok=True)
        self._configure()

    def _configure(self):
        schemas = "".join("include: file://%s/%s.ldif\n" % (SCHEMA_DIR, name)
                          for name in ("core", "cosine", "inetorgperson", "nis"))
        config = """dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {dir}/slapd.pid

dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: {modules}
olcModuleLoad: back_mdb
olcModuleLoad: ppolicy
olcModuleLoad: argon2 {argon2}

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

{schemas}
dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend
# After the module list: the argon2 scheme exists only once its module is loaded.
olcPasswordHash: {{ARGON2}}

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by dn.exact=gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth manage by * none

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcSuffix: {suffix}
olcRootDN: {admin}
olcRootPW: {admin_hash}
olcDbDirectory: {dir}/db
olcDbMaxSize: 1073741824
olcLastBind: TRUE
olcSizeLimit: {size_limit}
{limits}olcDbIndex: objectClass eq
olcDbIndex: uid eq
olcDbIndex: mail eq
olcDbIndex: ou eq
olcDbIndex: employeeType eq
olcDbIndex: employeeNumber eq
olcDbIndex: pwdAccountLockedTime eq,pres
olcAccess: {{0}}to attrs=userPassword by self write by dn.exact="{toolkit}" write by anonymous auth by * none
olcAccess: {{1}}to attrs=pwdAccountLockedTime by dn.exact="{toolkit}" manage by dn.exact="{mailserver}" read by self read by * none
olcAccess: {{2}}to attrs=pwdReset,pwdFailureTime,pwdLastSuccess,pwdHistory,pwdChangedTime by dn.exact="{toolkit}" manage by self read by * none
olcAccess: {{3}}to dn.subtree="{base}" by dn.exact="{toolkit}" write by dn.exact="{mailserver}" read by self read by * none
olcAccess: {{4}}to * by dn.exact="{toolkit}" read by * none

dn: olcOverlay={{0}}ppolicy,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcPPolicyConfig
olcOverlay: {{0}}ppolicy
olcPPolicyDefault: cn=default,ou=policies,{suffix}
olcPPolicyHashCleartext: TRUE
""".format(dir=self.dir, modules=MODULE_DIR, schemas=schemas, suffix=self.suffix, admin=self.admin_dn,
           argon2=self.argon2_parameters, limits=self.limits, size_limit=self.size_limit,
           admin_hash=hash_password(self.passwords[self.admin_dn], self.argon2_parameters), toolkit=self.toolkit_dn,
           mailserver=self.mailserver_dn, base=self.base)
        os.makedirs(os.path.join(self.dir, "slapd.d"), exist_ok=True)
        path = os.path.join(self.dir, "config.ldif")
        with open(path, "w") as fh:
            fh.write(config)
        subprocess.run(["slapadd", "-n", "0", "-F", os.path.join(self.dir, "slapd.d"), "-l", path],
                       check=True, capture_output=True, timeout=60)
        dc = self.suffix.split(",")[0].split("=")[1]
        data = """dn: {suffix}
objectClass: top
objectClass: dcObject
objectClass: organization
dc: {dc}
o: {dc}

dn: ou=accounts,{suffix}
objectClass: organizationalUnit
ou: accounts

dn: ou=system,{suffix}
objectClass: organizationalUnit
ou: system

dn: ou=policies,{suffix}
objectClass: organizationalUnit
ou: policies

dn: cn=default,ou=policies,{suffix}
objectClass: top
objectClass: device
objectClass: pwdPolicy
cn: default
pwdAttribute: userPassword
pwdMinLength: 8
pwdCheckQuality: 1
pwdLockout: TRUE
pwdMaxFailure: 5
pwdLockoutDuration: 900
pwdMustChange: TRUE
pwdAllowUserChange: TRUE
pwdMaxAge: 7776000
pwdExpireWarning: 1209600
pwdInHistory: 5

dn: {toolkit}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: toolkit
userPassword: {toolkit_hash}

dn: {mailserver}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: mailserver
userPassword: {mailserver_hash}
""".format(suffix=self.suffix, dc=dc, toolkit=self.toolkit_dn, mailserver=self.mailserver_dn,
           toolkit_hash=hash_password(self.passwords[self.toolkit_dn], self.argon2_parameters),
           mailserver_hash=hash_password(self.passwords[self.mailserver_dn], self.argon2_parameters))
        path = os.path.join(self.dir, "base.ldif")
        with open(path, "w") as fh:
            fh.write(data)
        subprocess.run(["slapadd", "-n", "1", "-F", os.path.join(self.dir, "slapd.d"), "-l", path],
                       check=True, capture_output=True, timeout=60)

    def command(self):
        return [shutil.which("slapd") or "/usr/sbin/slapd", "-d", "0", "-F", os.path.join(self.dir, "slapd.d"),
                "-h", "%s/ %s" % (self.uri, self.ldapi), "-u", "root"]

    def ready(self):
        return self.whoami(self.toolkit_dn, self.passwords[self.toolkit_dn]) == 0

    def whoami(self, dn, password):
        """Exit status of a real simple bind (ldapwhoami): 0 bound, 49 invalid credentials."""
        return subprocess.run(["ldapwhoami", "-x", "-H", self.uri, "-D", dn, "-w", password],
                              capture_output=True, timeout=10, check=False).returncode
