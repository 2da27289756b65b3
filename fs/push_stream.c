/* Pushes that start while the file is still being written in order: once
 * a copy passes STREAM_AFTER bytes, its content follows the writes. */
#include "fs/relayfs.h"

/* Smaller files gain nothing: their push at close is one short PUT. */
#define STREAM_AFTER (8u << 20)

void fs_stream_stop_locked(struct fs_node *node)
{
	relay_stream_abort(node->stream);
	node->stream = NULL;
}

void fs_stream_follow_locked(struct relayfs *fs, struct fs_node *node,
			     uint64_t offset, ssize_t n, uint64_t before)
{
	struct cache_staged *s = node->staged;
	bool in_order = s && n > 0 && offset == before;

	if (node->stream) {
		if (in_order)
			relay_stream_grow(node->stream, s->size);
		else
			fs_stream_stop_locked(node); /* pushed whole at close */
		return;
	}
	/* once, as the file passes the mark; with writeback the push waits
	 * for the writes to end */
	if (in_order && s->in_order && !fs->cfg->writeback_ms &&
	    !node->deleted && s->size >= STREAM_AFTER &&
	    before < STREAM_AFTER)
		node->stream = relay_stream_start(fs->relay, s->relay_path,
						  s->fd, s->size);
}

int fs_stream_push_locked(struct relayfs *fs, struct fs_node *node,
			  const char *checksum)
{
	struct cache_staged *s = node->staged;
	struct relay_stream *stream = node->stream;
	int ret;

	node->stream = NULL;
	ret = relay_stream_finish(stream, s->size, s->mtime, checksum);
	if (ret < 0) /* the relay is as it was: the push sends it whole */
		ret = relay_push(fs->relay, s->relay_path, s->fd, s->size,
				 s->mtime, checksum);
	return ret;
}
