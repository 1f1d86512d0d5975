/* Tests of the trace readers (dsp/trace.c): formats, artefact handling, bad input. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "fetalmon/trace.h"

static void fhr_record_decodes_as_documented(void)
{
    /* data README: record e1 01 e1 01 3f 00 is 120.25 bpm, toco 31.5 */
    const uint8_t buf[] = {0, 0, 0, 0, 0xe1, 0x01, 0xe1, 0x01, 0x3f, 0x00};
    fm_trace *t = NULL;
    CHECK(fm_trace_parse_fhr(buf, sizeof buf, 0, &t, NULL, 0) == FM_OK);
    CHECK(t && t->n == 1 && fabsf(t->fhr_bpm[0] - 120.25f) < 1e-6f);
    CHECK(t && fabsf(t->toco[0] - 31.5f) < 1e-6f && t->state[0] == FM_STATE_OK);
    fm_trace_destroy(t);
}

static void fhr_zero_and_artefact_values_are_lost(void)
{
    uint8_t buf[4 + 3 * 6] = {0};
    buf[4 + 6] = 40 * 4; /* 40 bpm: below the artefact floor */
    buf[4 + 12] = (uint8_t)((140 * 4) & 0xff);
    buf[4 + 13] = (uint8_t)((140 * 4) >> 8);
    fm_trace *t = NULL;
    CHECK(fm_trace_parse_fhr(buf, sizeof buf, 0, &t, NULL, 0) == FM_OK);
    CHECK(t && isnan(t->fhr_bpm[0]) && t->state[0] == FM_STATE_LOST);
    CHECK(t && isnan(t->fhr_bpm[1]) && t->state[1] == FM_STATE_LOST);
    CHECK(t && t->fhr_bpm[2] == 140.0f);
    fm_trace_destroy(t);
}

static void fhr_truncated_record_is_an_error(void)
{
    uint8_t buf[4 + 6 + 3] = {0};
    fm_trace *t = NULL;
    char err[128] = "";
    CHECK(fm_trace_parse_fhr(buf, sizeof buf, 0, &t, err, sizeof err) == FM_ETRUNCATED);
    CHECK(t == NULL && strlen(err) > 0);
    CHECK(fm_trace_parse_fhr(buf, 2, 0, &t, err, sizeof err) != FM_OK);
    CHECK(fm_trace_parse_fhr(buf, 0, 0, &t, err, sizeof err) != FM_OK);
}

static void csv_with_header_gaps_and_mhr(void)
{
    const char *csv = "time_s,fhr_bpm,mhr_bpm\n0,140,80\n0.25,,81\n1.0,300,82\n1.25,150.5,\n";
    fm_trace *t = NULL;
    CHECK(fm_trace_parse_csv(csv, strlen(csv), &t, NULL, 0) == FM_OK);
    CHECK(t && t->n == 6);
    CHECK(t && t->fhr_bpm[0] == 140.0f && isnan(t->fhr_bpm[1]) && isnan(t->fhr_bpm[2]));
    CHECK(t && isnan(t->fhr_bpm[4]) && t->fhr_bpm[5] == 150.5f); /* 300 bpm is artefact */
    CHECK(t && t->mhr_bpm && t->mhr_bpm[1] == 81.0f && isnan(t->mhr_bpm[5]));
    fm_trace_destroy(t);
}

static void csv_round_trips_the_analyze_output(void)
{
    const char *csv = "time_s,fhr_bpm,quality,state\n0.00,140.00,0.900,ok\n0.25,,0.000,lost\n"
                      "0.50,90.00,0.500,maternal_suspected\n";
    fm_trace *t = NULL;
    CHECK(fm_trace_parse_csv(csv, strlen(csv), &t, NULL, 0) == FM_OK);
    CHECK(t && t->n == 3 && t->state[0] == FM_STATE_OK && t->state[1] == FM_STATE_LOST);
    CHECK(t && t->state[2] == FM_STATE_MATERNAL && fabsf(t->quality[0] - 0.9f) < 1e-6f);
    fm_trace_destroy(t);
}

static void csv_bad_input_is_rejected(void)
{
    const char *bad[] = {"", "time_s,fhr_bpm\n", "time_s,fhr_bpm\n0,abc\n",
                         "time_s,fhr_bpm\n1,140\n0.5,140\n", "time_s,foo\n0,1\n",
                         "time_s,fhr_bpm\n0,140,1\n", "time_s,fhr_bpm\n999999999,140\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fm_trace *t = NULL;
        char err[128] = "";
        CHECKF(fm_trace_parse_csv(bad[i], strlen(bad[i]), &t, err, sizeof err) != FM_OK,
               "case %zu", i);
        CHECK(t == NULL);
    }
}

static void wfdb_format16_with_gain_and_baseline(void)
{
    const char *hea = "1001 2 4 3\n1001.dat 16 100/bpm 12 0 14000 0 0 FHR\n"
                      "1001.dat 16 100/nd 12 0 700 0 0 UC\n";
    int16_t dat[6] = {14000, 700, 0, 800, 15050, 900};
    fm_trace *t = NULL;
    CHECK(fm_trace_parse_wfdb(hea, strlen(hea), (const uint8_t *)dat, sizeof dat, &t, NULL, 0) ==
          FM_OK);
    CHECK(t && t->n == 3 && t->fhr_bpm[0] == 140.0f && isnan(t->fhr_bpm[1]));
    CHECK(t && fabsf(t->fhr_bpm[2] - 150.5f) < 1e-4f && t->toco && t->toco[1] == 8.0f);
    fm_trace_destroy(t);
}

static void wfdb_truncated_and_mismatched_headers_fail(void)
{
    const char *hea = "1001 2 4 10\n1001.dat 16 100/bpm 12 0 0 0 0 FHR\n"
                      "1001.dat 16 100/nd 12 0 0 0 0 UC\n";
    int16_t dat[6] = {0};
    fm_trace *t = NULL;
    char err[128];
    CHECK(fm_trace_parse_wfdb(hea, strlen(hea), (const uint8_t *)dat, sizeof dat, &t, err,
                              sizeof err) == FM_ETRUNCATED);
    const char *hea2 = "1001 2 4 3\n1001.dat 16 100/bpm 12 0 0 0 0 FHR\n";
    CHECK(fm_trace_parse_wfdb(hea2, strlen(hea2), (const uint8_t *)dat, sizeof dat, &t, err,
                              sizeof err) == FM_EFORMAT);
    const char *hea3 = "1001 1 250 3\n1001.dat 16 100/bpm 12 0 0 0 0 FHR\n";
    CHECK(fm_trace_parse_wfdb(hea3, strlen(hea3), (const uint8_t *)dat, sizeof dat, &t, err,
                              sizeof err) == FM_ERATE);
    const char *hea4 = "1001 1 4 3\n1001.dat 212 100/bpm 12 0 0 0 0 FHR\n";
    CHECK(fm_trace_parse_wfdb(hea4, strlen(hea4), (const uint8_t *)dat, sizeof dat, &t, err,
                              sizeof err) == FM_EUNSUPPORTED);
    CHECK(fm_trace_parse_wfdb("", 0, NULL, 0, &t, err, sizeof err) == FM_EFORMAT);
    CHECK(t == NULL);
}

static void real_fixture_reads(void)
{
    char path[4096];
    const char *src = getenv("FM_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/fixtures/traces/fhrma_train01_20min.fhr", src ? src : "..");
    fm_trace *t = NULL;
    char err[256] = "";
    CHECKF(fm_trace_read(path, FM_TRACE_AUTO, &t, err, sizeof err) == FM_OK, "%s", err);
    CHECK(t && t->n == 4800);
    CHECK(t && fm_trace_lost_percent(t) < 50.0);
    fm_trace_destroy(t);
    CHECK(fm_trace_read("/nonexistent.fhr", FM_TRACE_AUTO, &t, err, sizeof err) == FM_EIO);
}

int main(void)
{
    RUN(fhr_record_decodes_as_documented);
    RUN(fhr_zero_and_artefact_values_are_lost);
    RUN(fhr_truncated_record_is_an_error);
    RUN(csv_with_header_gaps_and_mhr);
    RUN(csv_round_trips_the_analyze_output);
    RUN(csv_bad_input_is_rejected);
    RUN(wfdb_format16_with_gain_and_baseline);
    RUN(wfdb_truncated_and_mismatched_headers_fail);
    RUN(real_fixture_reads);
    return CHECK_DONE();
}
