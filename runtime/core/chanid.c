/* chanid.c: the check every bot and channel ID passes (chanid.h). */
#include "core/chanid.h"

const char *id_check(const char *id, size_t len)
{
    if (len == 0)
        return "is empty";
    if (len > ID_MAX)
        return "is longer than 64 characters";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return "has a character outside A-Z a-z 0-9 _ -";
    }
    return NULL;
}
