/* rules_provider — replies from a rules file (rules.h), streamed a word
 * at a time on the loop like a model's tokens (no delay: each word is one
 * turn of the loop, so an interrupt still lands between words). */
#ifndef VOXMESH_LLM_RULES_PROVIDER_H
#define VOXMESH_LLM_RULES_PROVIDER_H

#include "provider.h"
#include "rules.h"
#include "service.h"

/* Takes ownership of rules. */
provider_t *rules_provider_new(service_t *svc, rules_t *rules);

#endif
