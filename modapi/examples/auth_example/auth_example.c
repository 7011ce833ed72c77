/*
 * auth_example.c - the smallest useful modpop3d auth module, in C.
 *
 * Configuration:
 *   [auth_example]
 *   users: alice bob          # who may log in
 *   password: {PLAIN}secret   # their shared stored secret (any scheme)
 *   mailbox: maildir:/srv/mail/$(user)/Maildir
 *
 * It shows the whole contract: a schema the core validates, conf_check
 * reporting with file:line through the host, an instance built in
 * instance_new, and verify_plain using the host's password and template
 * services. It links against nothing from the core.
 */
#include <modpop3d/module.h>
#include <stdlib.h>
#include <string.h>

struct example {
    const struct modpop3d_host *host;
    const struct modpop3d_conf *conf;
    struct modpop3d_ictx *ictx;
};

static const struct modpop3d_conf_item schema[] = {
    {"users", MODPOP3D_CONF_LIST, MODPOP3D_CONFF_REQUIRED, NULL, "users who may log in", NULL, 0,
     0},
    {"password", MODPOP3D_CONF_STRING, MODPOP3D_CONFF_REQUIRED | MODPOP3D_CONFF_SECRET, NULL,
     "the stored secret of every user ({SCHEME}value or a crypt string)", NULL, 0, 0},
    {"mailbox", MODPOP3D_CONF_TEMPLATE, 0, "maildir:$(home)/Maildir", "mailbox spec", NULL, 0, 0},
    {"home", MODPOP3D_CONF_TEMPLATE, 0, "/home/$(user)", "home directory", NULL, 0, 0},
    {NULL, 0, 0, NULL, NULL, NULL, 0, 0},
};

static int32_t example_conf_check(const struct modpop3d_host *host,
                                  const struct modpop3d_conf *conf)
{
    const char *password = NULL;
    if (host->conf_str(conf, "password", &password) == MODPOP3D_OK && password[0] == '\0')
        return host->conf_error(conf, "password", "must not be empty");
    return MODPOP3D_OK;
}

static int32_t example_new(const struct modpop3d_host *host, const struct modpop3d_conf *conf,
                           struct modpop3d_ictx *ictx, void **ret_inst)
{
    struct example *ex = calloc(1, sizeof *ex);
    if (ex == NULL)
        return MODPOP3D_E_NOMEM;
    /* conf stays valid until instance_free, so it can be kept. */
    ex->host = host;
    ex->conf = conf;
    ex->ictx = ictx;
    *ret_inst = ex;
    return MODPOP3D_OK;
}

static void example_free(void *inst)
{
    free(inst);
}

static int is_listed(const struct example *ex, const char *user)
{
    const char *item = NULL;
    uint32_t i;
    for (i = 0; ex->host->conf_list_item(ex->conf, "users", i, &item) == MODPOP3D_OK; ++i)
        if (strcmp(item, user) == 0)
            return 1;
    return 0;
}

static int32_t example_verify(void *inst, struct modpop3d_session *session, const char *user,
                              const char *pass, size_t pass_len, struct modpop3d_auth_result *res)
{
    struct example *ex = inst;
    const char *stored = NULL, *tmpl = NULL;
    char buf[512];
    size_t len = 0;
    int32_t rc;

    if (!is_listed(ex, user)) {
        /* Spend the time a real check costs: unknown users must not be
         * distinguishable from wrong passwords by timing. */
        (void)ex->host->password_dummy_verify(pass, pass_len);
        return MODPOP3D_E_NOUSER;
    }
    ex->host->conf_str(ex->conf, "password", &stored);
    rc = ex->host->password_verify(stored, pass, pass_len);
    if (rc != MODPOP3D_OK)
        return rc == MODPOP3D_E_NOTSUP ? MODPOP3D_E_TEMP : rc;

    ex->host->result_set(res, "user", user);
    ex->host->conf_str(ex->conf, "home", &tmpl);
    if (ex->host->expand(session, tmpl, NULL, NULL, buf, sizeof buf, &len) != MODPOP3D_OK)
        return MODPOP3D_E_TEMP;
    ex->host->result_set(res, "home", buf);
    ex->host->conf_str(ex->conf, "mailbox", &tmpl);
    ex->host->result_set(res, "mailbox", tmpl);
    ex->host->log(ex->ictx, MODPOP3D_LOG_DEBUG, "event=verified user=%s", user);
    return MODPOP3D_OK;
}

static const struct modpop3d_auth_ops example_ops = {
    sizeof(struct modpop3d_auth_ops),
    MODPOP3D_AUTHC_PLAIN,
    example_verify,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
};

static const struct modpop3d_module example_module = {
    sizeof(struct modpop3d_module),
    MODPOP3D_ABI_MAJOR,
    MODPOP3D_ABI_MINOR,
    MODPOP3D_KIND_AUTH,
    0,
    "auth_example",
    "1.0",
    "example out-of-tree auth module: a list of users sharing one secret",
    schema,
    sizeof(struct modpop3d_conf_item),
    0,
    example_conf_check,
    example_new,
    NULL,
    example_free,
    &example_ops,
};

MODPOP3D_MODULE_DEFINE(example_module)
