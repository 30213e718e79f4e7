/* Jobs and administration routes: the caller's background jobs, re-queueing dead ones (admin),
 * instance statistics (admin); plus a hidden test route that queues test.sleep jobs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_util.h"
#include "api/schemas.h"
#include "auth/audit.h"
#include "core/err.h"
#include "jobs/jobs.h"
#include "providers/circuit.h"
#include "providers/provider_call.h"
#include "net/server.h"

/* GET /api/v1/jobs?status=&avatar_id=&media_id=&limit=&cursor=[&owner_id= (admin)] */
static int list_jobs(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    struct context e;
    long limit;
    const char *cursor;
    int err = api_env(req, &e);
    if (err || (err = api_page(req, res, &limit, &cursor)))
        return err;
    const char *status = req_query(req, "status");
    if (status && job_status_parse(status) < 0) {
        res_error(res, req, DP_ERR_INVALID, "status must be queued, running, retrying, done or dead");
        return DP_ERR_INVALID;
    }
    /* Everyone sees their own jobs; admins everyone's, or one user's with ?owner_id=. The
     * avatar and media filters only narrow that: they grant nothing. */
    struct job_filter f = {c->role == ROLE_ADMIN ? req_query(req, "owner_id") : c->user_id, status,
                           req_query(req, "avatar_id"), req_query(req, "media_id")};
    if ((f.avatar_id && !id_valid(f.avatar_id)) || (f.media_id && !id_valid(f.media_id))) {
        res_error(res, req, DP_ERR_INVALID, "avatar_id and media_id must be ids");
        return DP_ERR_INVALID;
    }
    json_t *items;
    if ((err = job_list_json(e.db, &f, cursor, limit, &items)))
        return err;
    res_json(res, 200, api_page_json(items, limit, "id"));
    return DP_OK;
}

/* GET /api/v1/jobs/{id}: its owner or an admin; 404 for everyone else. */
static int get_job(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    struct context e;
    int err = api_env(req, &e);
    if (err)
        return err;
    json_t *j;
    char owner[ID_LEN];
    if ((err = job_get_json(e.db, req_param(req, "id"), &j, owner, NULL)))
        return err;
    if (c->role != ROLE_ADMIN && strcmp(owner, c->user_id)) {
        json_decref(j);
        return DP_ERR_NOT_FOUND;
    }
    res_json(res, 200, j);
    return DP_OK;
}

/* POST /api/v1/jobs/{id}/retry (admin): a dead job runs again, attempts reset. */
static int retry_job(struct request *req, struct response *res)
{
    const struct caller *c = api_caller(req);
    if (c->role != ROLE_ADMIN) {
        res_error(res, req, DP_ERR_FORBIDDEN, "re-queueing jobs needs the admin role");
        return DP_ERR_FORBIDDEN;
    }
    struct context e;
    int err = api_env(req, &e);
    if (err)
        return err;
    const char *id = req_param(req, "id");
    err = job_retry(e.db, e.cache, id);
    if (err == DP_ERR_CONFLICT) {
        res_error(res, req, err, "only a dead job can be re-queued");
        return err;
    }
    if (err)
        return err;
    json_t *j;
    char org[ID_LEN];
    if ((err = job_get_json(e.db, id, &j, NULL, org)))
        return err;
    audit_write(e.db, "job.retry", c->user_id, id, *org ? org : NULL, e.ip,
                json_pack("{s:s}", "kind", json_string_value(json_object_get(j, "kind"))));
    res_json(res, 200, j);
    return DP_OK;
}

/* GET /api/v1/admin/stats (admin). */
static int admin_stats(struct request *req, struct response *res)
{
    if (api_caller(req)->role != ROLE_ADMIN) {
        res_error(res, req, DP_ERR_FORBIDDEN, "instance statistics need the admin role");
        return DP_ERR_FORBIDDEN;
    }
    struct context e;
    int err = api_env(req, &e);
    if (err)
        return err;
    int64_t users, orgs, sessions;
    json_t *jobs;
    if ((err = accounts_count_users(e.db, &users)) || (err = accounts_count_orgs(e.db, &orgs)) ||
        (err = accounts_count_sessions(e.db, &sessions)) || (err = job_counts_json(e.db, &jobs)))
        return err;
    json_t *depth = json_incref(json_object_get(jobs, "queue_depth"));
    json_object_del(jobs, "queue_depth");
    int ws = req->server ? server_ws_count(req->server) : -1;
    res_json(res, 200,
             json_pack("{s:I,s:I,s:I,s:o,s:o,s:o,s:o,s:o}", "users", (json_int_t)users, "orgs", (json_int_t)orgs,
                       "sessions_active", (json_int_t)sessions, "jobs", jobs, "queue_depth", depth, "websockets_open",
                       ws < 0 ? json_null() : json_integer(ws), "circuits", circuits_json(), "providers",
                       providers_json()));
    return DP_OK;
}

/* POST /api/v1/_test/jobs {ms?, fail_times?, max_attempts?, owner_id?, org_id?}: queues test.sleep. */
static int t_enqueue(struct request *req, struct response *res)
{
    struct context e;
    int err = api_env(req, &e);
    if (err)
        return err;
    json_t *b = req->json;
    json_int_t ms = json_integer_value(json_object_get(b, "ms"));
    json_int_t fail = json_integer_value(json_object_get(b, "fail_times"));
    json_int_t max = json_integer_value(json_object_get(b, "max_attempts"));
    const char *owner, *org;
    if ((err = api_body_str(req, res, "owner_id", 64, &owner)) || (err = api_body_str(req, res, "org_id", 64, &org)))
        return err;
    if (ms < 0 || ms > 60000 || fail < 0 || fail > 100 || max < 0 || max > 100) {
        res_error(res, req, DP_ERR_INVALID, "ms must be 0 to 60000, fail_times and max_attempts 0 to 100");
        return DP_ERR_INVALID;
    }
    json_t *payload = json_pack("{s:I,s:I}", "ms", ms, "fail_times", fail);
    char id[ID_LEN];
    err = payload ? job_enqueue_ex(e.db, "test.sleep", payload, owner, org, (int)max, 0, id) : DP_ERR_NOMEM;
    json_decref(payload);
    json_t *j;
    if (err || (err = job_get_json(e.db, id, &j, NULL, NULL)))
        return err;
    res_json(res, 201, j);
    return DP_OK;
}

/* OpenAPI: bodies, parameters and answers (api/schemas.h has the short forms). */
static const char get_doc[] = J({"responses" : {"200" : "Job"}});
static const char retry_doc[] = J({"responses" : {"200" : "Job"}, "errors" : [ 403, 409 ]});
static const char stats_doc[] = J({"responses" : {"200" : "Stats"}, "errors" : [403]});

const struct route jobs_routes[] = {
    {"GET", "/api/v1/jobs", 0, 0, list_jobs, "jobs",
     "The caller's background jobs, newest first (?status=, ?avatar_id=, ?media_id=, ?limit=, ?cursor=; admins: "
     "everyone's or ?owner_id=). A job says what it works on: avatar_id and media_id (null when none)",
     "{\"parameters\":[{\"name\":\"status\",\"in\":\"query\",\"required\":false,\"schema\":{\"type\":"
     "\"string\",\"enum\":[\"queued\",\"running\",\"retrying\",\"done\",\"dead\"]}},{\"name\":\"avatar_id\","
     "\"in\":\"query\",\"required\":false,\"schema\":{\"type\":\"string\"}},{\"name\":\"media_id\",\"in\":"
     "\"query\",\"required\":false,\"schema\":{\"type\":\"string\"}},{\"name\":\"owner_id\",\"in\":"
     "\"query\",\"required\":false,\"schema\":{\"type\":\"string\"}},{\"name\":\"limit\",\"in\":\"query\","
     "\"schema\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":200}},{\"name\":\"cursor\",\"in\":\"query\","
     "\"schema\":{\"type\":\"string\"}}],\"responses\":{\"200\":\"Page<Job>\"}}",
     NULL, NULL},
    {"GET", "/api/v1/jobs/{id}", 0, 0, get_job, "jobs", "A background job (its owner or an admin)", get_doc, NULL,
     NULL},
    {"POST", "/api/v1/jobs/{id}/retry", 0, 0, retry_job, "jobs", "Re-queue a dead job, attempts reset (admin)",
     retry_doc, NULL, NULL},
    {"GET", "/api/v1/admin/stats", 0, 0, admin_stats, "admin",
     "Counts (users, orgs, active sessions, jobs by status), queue depth, open WebSockets, circuits, providers' calls and latency (admin)",
     stats_doc, NULL, NULL},
    {0},
};

const struct route jobs_test_routes[] = {
    {"POST", "/api/v1/_test/jobs", ROUTE_PUBLIC | ROUTE_HIDDEN | ROUTE_JSON, 0, t_enqueue, "test",
     "Queue a test.sleep job {ms, fail_times, max_attempts, owner_id}", NULL, NULL, NULL},
    {0},
};
