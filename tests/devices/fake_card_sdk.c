/* A stand-in for a region's card-reading library (the HeaSecReadInfo shape), compiled by the tests.
 * The two exports the driver uses behave as the real ones are documented to: 0 = success, otherwise a
 * non-zero code with the reason written (in GBK) into the first output buffer. The Fake* functions
 * let a test decide what the next call answers; the driver never calls them. */
#include <string.h>

static int initialised = 0;
static int init_ret = 0;
static char init_err[512] = "";
static char last_init[4096] = "";
static char card_info[2048] = "";
static char busi_info[8192] = "";
static int read_ret = 0;
static int reads = 0;

int Init(const char *init_json, char *err_msg) {
    strncpy(last_init, init_json, sizeof last_init - 1);
    if (init_ret != 0) {
        strcpy(err_msg, init_err);
        return init_ret;
    }
    if (strstr(init_json, "\"IP\"") == NULL) {
        strcpy(err_msg, "\xc8\xb1\xc9\xd9 IP");  /* "缺少 IP" in GBK */
        return -1;
    }
    initialised = 1;
    return 0;
}

int ReadCardBas(char *card_info_out, char *busi_card_info_out) {
    reads++;
    if (!initialised) {
        strcpy(card_info_out, "not initialised");
        return -2;
    }
    strcpy(card_info_out, card_info);
    strcpy(busi_card_info_out, busi_info);
    return read_ret;
}

void FakeReset(void) {
    initialised = 0;
    init_ret = 0;
    init_err[0] = last_init[0] = card_info[0] = busi_info[0] = 0;
    read_ret = 0;
    reads = 0;
}

void FakeSetInit(int ret, const char *err) {
    init_ret = ret;
    strncpy(init_err, err, sizeof init_err - 1);
}

void FakeSetCard(const char *info, const char *busi, int ret) {
    strncpy(card_info, info, sizeof card_info - 1);
    strncpy(busi_info, busi, sizeof busi_info - 1);
    read_ret = ret;
}

const char *FakeLastInit(void) { return last_init; }

int FakeReads(void) { return reads; }
