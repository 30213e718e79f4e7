/* The API's component schemas: every name is given once (a second schema of the same name would
 * silently replace the first in the generated document, and the suite would check the wrong shape). */
#include <string.h>

#include "../test.h"
#include "api/schemas.h"

TEST(api_schema_names_are_unique)
{
    for (int i = 0; api_schemas[i].name; i++)
        for (int j = i + 1; api_schemas[j].name; j++)
            if (!strcmp(api_schemas[i].name, api_schemas[j].name)) {
                fprintf(stderr, "schema %s is defined twice\n", api_schemas[i].name);
                CHECK(0);
            }
}
