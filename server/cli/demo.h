/* The demo of `fetalmon serve --demo`: a demo clinician and a demo patient with known passwords
 * (created or reset at each start: never on a server holding real patients' data), and a
 * simulated home device, a client thread in this process that streams generated Doppler audio
 * (fm_synth) live over the real ingest WebSocket, so a newcomer sees a live trace at once.
 * Not for tests or benchmarks (they run their own clients). */
#ifndef FM_DEMO_H
#define FM_DEMO_H

#include <stddef.h>

#define FM_DEMO_CLINICIAN "demo-clinician"
#define FM_DEMO_CLINICIAN_PW "demo-clinician-pw"
#define FM_DEMO_PATIENT "demo-patient"
#define FM_DEMO_PATIENT_PW "demo-patient-pw"

typedef struct fm_demo fm_demo;

/* Creates (or resets the passwords of) the demo accounts and a device token for the patient.
 * Returns 0, or -1 with a message in err. */
int fm_demo_prepare(const char *data_dir, char *token, size_t token_cap, char *err,
                    size_t err_len);
/* Starts the simulated device streaming to 127.0.0.1:port (a thread). NULL on failure. */
fm_demo *fm_demo_start(int port, const char *token);
/* Asks the device to close its stream and end (returns at once). The server must keep
 * serving until fm_demo_done (the close goes over the real socket). */
void fm_demo_stopping(fm_demo *d);
/* 1 when the device thread has ended (d is an fm_demo *; NULL counts as done). */
int fm_demo_done(void *d);
/* Stops the device (closes its stream: the recording is then analysed) and joins the thread. */
void fm_demo_stop(fm_demo *d);

#endif
