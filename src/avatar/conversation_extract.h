/* LLM memory extraction from conversations with an avatar (--llm-extract): what the avatar's owner
 * says in them becomes fact memories of the avatar, each naming the messages it came from.
 *
 * Whose words: only the owner's turns (a `self` avatar's owner speaks as the person; the owner of a
 * legacy or character avatar tells it about the person). A visitor's or a sharer's words never
 * become the avatar's memories, and the avatar's own replies are never read: they come from its
 * memories or from a model, and reading them back would launder a model's guess into a memory.
 *
 * When: a durable job (conversation.extract) once the conversation has been quiet for
 * --llm-extract-idle seconds, or at once when --llm-extract-turns new owner turns have piled up
 * (a long session is not held back until it ends). Each conversation keeps a high-water mark (the
 * last message read), so no turn is read twice; one waiting job per conversation at a time. */
#ifndef DP_CONVERSATION_EXTRACT_H
#define DP_CONVERSATION_EXTRACT_H

struct db;

/* Registers the job kind with its trigger settings. Before jobs start. */
void conversation_extract_register(long idle_s, long turns);

/* After a user turn of conversation conv is stored: queues its extraction when it is enabled, the
 * turn is the avatar owner's and no job for it is waiting. DP_OK and nothing queued otherwise. */
int conversation_extract_turn(struct db *db, const char *conv);

#endif
