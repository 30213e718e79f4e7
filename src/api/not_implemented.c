/* Every route of the API contract (shared/API.md) not built yet: each answers 501 not_implemented
 * and shows in the OpenAPI document as such. A route moves to its resource file when it lands. */
#include "api/app.h"

#define NI ROUTE_NOT_IMPLEMENTED
#define NI_WS (ROUTE_NOT_IMPLEMENTED | ROUTE_WEBSOCKET)
#define R(m, p, f, tag, s)                                                                                             \
    {                                                                                                                  \
        m, p, f, 0, NULL, tag, s, NULL, NULL, NULL                                                                     \
    }

const struct route not_implemented_routes[] = {
    {0},
};
