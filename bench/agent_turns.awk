# Per-turn latencies of the agent from `voxmesh mon --json` lines (stt.final.,
# llm.sentence., audio.out.pcm., audio.out.opus.). For each (session, turn):
# origin = the caller's end of speech (the final transcript's origin), and the
# wall-clock times its first final, first sentence, first TTS audio and first
# encoded audio were published. Prints one line per complete turn:
#   session turn stt_ms llm_ms tts_ms codec_ms v2v_ms
# (each stage from the end of the previous one; v2v from the end of speech to
# the first encoded audio, which the edge sends on arrival).
function num(key,   m) { if (match($0, "\"" key "\":-?[0-9]+")) { m = substr($0, RSTART, RLENGTH); sub(/.*:/, "", m); return m + 0 } return -1 }
function str(key,   m) { if (match($0, "\"" key "\":\"[^\"]*\"")) { m = substr($0, RSTART, RLENGTH); sub(/^[^:]*:"/, "", m); sub(/"$/, "", m); return m } return "" }
{
    type = str("type"); s = str("session"); sent = num("sent_ts_us")
    if (type == "stt_final") { t = num("utterance"); k = s SUBSEP t; if (!(k in fin)) { fin[k] = sent; org[k] = num("origin_ts_us"); order[++n] = k } }
    else if (type == "llm_sentence") { t = num("turn"); k = s SUBSEP t; if (!(k in sen)) sen[k] = sent }
    else if (type == "pcm_audio") { t = num("turn"); if (t > 0) { k = s SUBSEP t; if (!(k in tts)) tts[k] = sent } }
    else if (type == "encoded_audio") { t = num("turn"); if (t > 0) { k = s SUBSEP t; if (!(k in enc)) enc[k] = sent } }
}
END {
    for (i = 1; i <= n; i++) {
        k = order[i]
        if (!(k in sen) || !(k in tts) || !(k in enc)) { split(k, p, SUBSEP); printf "%s %s incomplete\n", p[1], p[2]; continue }
        split(k, p, SUBSEP)
        printf "%s %s %.1f %.1f %.1f %.1f %.1f\n", p[1], p[2], (fin[k] - org[k]) / 1000, (sen[k] - fin[k]) / 1000,
               (tts[k] - sen[k]) / 1000, (enc[k] - tts[k]) / 1000, (enc[k] - org[k]) / 1000
    }
}
