import { useCallback, useContext } from "react";

import { StoreContext, useStoreSelector } from "../context";
import type { GeneralDeviceState, StatefulDevice } from "../store";
import type { DailyCameraError } from "../types";
import { useDaily } from "./useDaily";

const ERROR_STATES: GeneralDeviceState[] = [
  "blocked",
  "in-use",
  "not-found",
  "constraints-invalid",
  "constraints-none-specified",
  "undefined-mediadevices",
  "unknown",
];

export interface UseDevicesResult {
  cameraError: DailyCameraError | null;
  cameras: StatefulDevice[];
  camState: GeneralDeviceState;
  currentCam: StatefulDevice | undefined;
  currentMic: StatefulDevice | undefined;
  currentSpeaker: StatefulDevice | undefined;
  hasCamError: boolean;
  hasMicError: boolean;
  microphones: StatefulDevice[];
  micState: GeneralDeviceState;
  refreshDevices(): Promise<void>;
  setCamera(deviceId: string): Promise<void>;
  setMicrophone(deviceId: string): Promise<void>;
  setSpeaker(deviceId: string): Promise<void>;
  speakers: StatefulDevice[];
}

/**
 * The user's devices and their state (https://docs.daily.co/reference/daily-react/use-devices):
 * camState/micState follow `camera-error`, `started-camera` and the local participant's
 * track flags, as in daily-react. setCamera/setMicrophone call the call object's
 * setInputDevicesAsync, setSpeaker its setOutputDeviceAsync.
 */
export const useDevices = (): UseDevicesResult => {
  const daily = useDaily();
  const store = useContext(StoreContext);
  const camState = useStoreSelector((s) => s.camState);
  const micState = useStoreSelector((s) => s.micState);
  const cameras = useStoreSelector((s) => s.cameras);
  const microphones = useStoreSelector((s) => s.microphones);
  const speakers = useStoreSelector((s) => s.speakers);
  const cameraError = useStoreSelector((s) => s.cameraError);

  const setCamera = useCallback(
    async (deviceId: string) => {
      await daily?.setInputDevicesAsync?.({ audioDeviceId: null, videoDeviceId: deviceId });
      await store?.refreshDevices();
    },
    [daily, store],
  );
  const setMicrophone = useCallback(
    async (deviceId: string) => {
      await daily?.setInputDevicesAsync?.({ audioDeviceId: deviceId, videoDeviceId: null });
      await store?.refreshDevices();
    },
    [daily, store],
  );
  const setSpeaker = useCallback(
    async (deviceId: string) => {
      await daily?.setOutputDeviceAsync?.({ outputDeviceId: deviceId });
      await store?.refreshDevices();
    },
    [daily, store],
  );
  const refreshDevices = useCallback(async () => {
    await store?.refreshDevices();
  }, [store]);

  return {
    cameraError,
    cameras,
    camState,
    currentCam: cameras.find((d) => d.selected),
    currentMic: microphones.find((d) => d.selected),
    currentSpeaker: speakers.find((d) => d.selected),
    hasCamError: ERROR_STATES.includes(camState),
    hasMicError: ERROR_STATES.includes(micState),
    microphones,
    micState,
    refreshDevices,
    setCamera,
    setMicrophone,
    setSpeaker,
    speakers,
  };
};
